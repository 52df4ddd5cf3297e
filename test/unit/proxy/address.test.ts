import { describe, expect, test } from "vitest";
import { addressBytes, nonPublicRange } from "../../../src/proxy/address.js";

describe("nonPublicRange", () => {
  test.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "CGNAT"],
    ["100.127.255.255", "CGNAT"],
    ["169.254.169.254", "metadata"],
    ["169.254.1.1", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["fd00:ec2::254", "metadata"],
    ["fd12:3456::1", "private"],
    ["fc00::1", "private"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "metadata"],
    ["::ffff:10.0.0.1", "private"],
    ["192.0.0.192", "special-purpose"],
    ["64:ff9b::a9fe:a9fe", "metadata"],
    ["64:ff9b::10.0.0.1", "private"],
    ["64:ff9b::7f00:1", "loopback"],
  ])("%s is %s", (address, range) => expect(nonPublicRange(address)).toBe(range));

  test.each([
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "169.255.0.1",
    "8.8.8.8",
    "2606:4700::1111",
    "::ffff:1.1.1.1",
    "64:ff9b::1.1.1.1",
    "192.0.1.1",
  ])("%s is public", (address) => expect(nonPublicRange(address)).toBeNull());
});

test("addressBytes", () => {
  expect(addressBytes("192.168.0.1")).toEqual(Buffer.from([192, 168, 0, 1]));
  expect(addressBytes("::1").toString("hex")).toBe("00000000000000000000000000000001");
  expect(addressBytes("2001:db8::ff00:42:8329").toString("hex")).toBe(
    "20010db8000000000000ff0000428329",
  );
});
