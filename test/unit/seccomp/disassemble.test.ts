import { describe, expect, it } from "vitest";
import { buildSeccompFilter, disassemble } from "../../../src/runtime/linux/seccomp/index.js";

describe("disassemble", () => {
  const x86Default = disassemble(buildSeccompFilter("default", "x86_64"));
  const x86Strict = disassemble(buildSeccompFilter("strict", "x86_64"));
  const armDefault = disassemble(buildSeccompFilter("default", "aarch64"));
  const operations = (lines: string[]) => lines.map((line) => line.slice(33));

  it("opens with the architecture check and, on x86_64, the x32 check", () => {
    const kill = String(x86Default.length - 1).padStart(4, "0");
    expect(x86Default.slice(0, 5)).toEqual([
      "0000: 0x20 0x00 0x00 0x00000004  ld  [4]  ; arch",
      `0001: 0x15 0x00 ${x86Default[1]?.slice(16, 20)} 0xc000003e  jeq #0xc000003e  true:0002 false:${kill}`,
      "0002: 0x20 0x00 0x00 0x00000000  ld  [0]  ; nr",
      "0003: 0x35 0x00 0x01 0x40000000  jge #0x40000000  true:0004 false:0005",
      `0004: 0x15 0x00 ${x86Default[4]?.slice(16, 20)} 0xffffffff  jeq #0xffffffff  true:0005 false:${kill}`,
    ]);
    expect(operations(armDefault).slice(0, 3)).toEqual([
      "ld  [4]  ; arch",
      expect.stringMatching(/^jeq #0xc00000b7 {2}true:0002 false:\d{4}$/),
      "ld  [0]  ; nr",
    ]);
    expect(armDefault.join("\n")).not.toContain("#0x40000000");
  });

  it("ends with the four verdicts", () => {
    for (const lines of [x86Default, x86Strict, armDefault]) {
      expect(operations(lines).slice(-4)).toEqual([
        "ret ALLOW",
        "ret ERRNO(1)",
        "ret ERRNO(38)",
        "ret KILL_PROCESS",
      ]);
    }
  });

  it("shows the argument checks with the fields they read", () => {
    const text = operations(x86Default).join("\n");
    expect(text).toContain("ld  [16]  ; args[0] (low)\njset #0x7e020080");
    expect(text).toContain("ld  [24]  ; args[1] (low)\njeq #0x5412");
    expect(text).toMatch(
      /jeq #0x10 {2}true:\d{4} false:\d{4}\nld {2}\[32\] {2}; args\[2\] \(low\)\njeq #0x0/,
    );
    expect(text).not.toContain("and #0x6");
    expect(operations(x86Strict).join("\n")).toContain(
      "ld  [32]  ; args[2] (low)\nand #0x6\njeq #0x6",
    );
    // No check ever reads the upper half of an argument.
    expect(text).not.toContain("(high)");
  });

  it("names every seccomp_data field and flags what it cannot decode", () => {
    const bytes = Buffer.alloc(5 * 8);
    [8, 12, 60, 64].forEach((k, i) => {
      bytes.writeUInt16LE(0x20, i * 8);
      bytes.writeUInt32LE(k, i * 8 + 4);
    });
    bytes.writeUInt16LE(0x07, 32); // BPF_MISC | BPF_TAX
    expect(operations(disassemble(bytes))).toEqual([
      "ld  [8]  ; instruction_pointer (low)",
      "ld  [12]  ; instruction_pointer (high)",
      "ld  [60]  ; args[5] (high)",
      "ld  [64]  ; outside seccomp_data",
      "(unsupported opcode)",
    ]);
  });
});
