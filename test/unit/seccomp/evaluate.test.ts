import { describe, expect, it } from "vitest";
import {
  assemble,
  jeq,
  label,
  ld,
  ret,
  type Statement,
} from "../../../src/runtime/linux/seccomp/assemble.js";
import { decode, encode } from "../../../src/runtime/linux/seccomp/bpf.js";
import { evaluate, verdictOf } from "../../../src/runtime/linux/seccomp/evaluate.js";

const bytes = (statements: Statement[]) => encode(assemble(statements));

describe("evaluate", () => {
  it("reads nr, arch, the instruction pointer and both halves of each argument", () => {
    const data = {
      nr: -1,
      arch: 0xc000003e,
      instructionPointer: 0x1234_5678_9abc_def0n,
      args: [7n, 0n, 0n, 0n, 0n, -2n],
    };
    const loads = (offset: number, value: number) =>
      evaluate(
        bytes([
          ld(offset),
          jeq(value, "yes", "no"),
          label("no"),
          ret(0x00050001),
          label("yes"),
          ret(0x7fff0000),
        ]),
        data,
      ).action === "allow";
    expect(loads(0, 0xffffffff)).toBe(true);
    expect(loads(4, 0xc000003e)).toBe(true);
    expect(loads(8, 0x9abcdef0)).toBe(true);
    expect(loads(12, 0x12345678)).toBe(true);
    expect(loads(16, 7)).toBe(true);
    expect(loads(20, 0)).toBe(true);
    expect(loads(56, 0xfffffffe)).toBe(true);
    expect(loads(60, 0xffffffff)).toBe(true);
    expect(loads(16, 8)).toBe(false);
  });

  it("refuses what the kernel's checker would refuse", () => {
    expect(() => evaluate(Buffer.alloc(0), { nr: 0, arch: 0 })).toThrow(/non-empty array/);
    expect(() => evaluate(Buffer.alloc(12), { nr: 0, arch: 0 })).toThrow(/got 12 bytes/);
    expect(() => evaluate(bytes([ld(64), ret(0)]), { nr: 0, arch: 0 })).toThrow(
      /loads outside seccomp_data \(offset 64\)/,
    );
    expect(() => evaluate(bytes([ld(2), ret(0)]), { nr: 0, arch: 0 })).toThrow(/offset 2/);
    const tax = Buffer.from([0x07, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => evaluate(tax, { nr: 0, arch: 0 })).toThrow(/unsupported opcode 0x7/);
    expect(() => evaluate(bytes([ld(0)]), { nr: 0, arch: 0 })).toThrow(/ran past its last/);
    expect(() => evaluate(bytes([ret(0)]), { nr: 0, arch: 0, args: Array(7).fill(0n) })).toThrow(
      /6 arguments/,
    );
  });

  it("decodes every return action, and kills on one it does not know", () => {
    expect(verdictOf(0x80000000)).toEqual({ action: "kill_process" });
    expect(verdictOf(0x00000000)).toEqual({ action: "kill_thread" });
    expect(verdictOf(0x00030000)).toEqual({ action: "trap" });
    expect(verdictOf(0x00050026)).toEqual({ action: "errno", errno: 38 });
    expect(verdictOf(0x7fc00000)).toEqual({ action: "user_notif" });
    expect(verdictOf(0x7ff00000)).toEqual({ action: "trace" });
    expect(verdictOf(0x7ffc0000)).toEqual({ action: "log" });
    expect(verdictOf(0x7fff0000)).toEqual({ action: "allow" });
    expect(verdictOf(0x12340000)).toEqual({ action: "kill_process" });
  });

  it("round-trips instructions through the little-endian encoding", () => {
    const program = [
      { code: 0x15, jt: 1, jf: 255, k: 0xc000003e },
      { code: 0x06, jt: 0, jf: 0, k: 0x7fff0000 },
    ];
    const encoded = encode(program);
    expect(encoded.toString("hex")).toBe("150001ff3e0000c0" + "060000000000ff7f");
    expect(decode(encoded)).toEqual(program);
  });
});
