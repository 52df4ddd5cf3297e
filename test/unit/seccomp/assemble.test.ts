import { describe, expect, it } from "vitest";
import {
  and,
  assemble,
  ja,
  jeq,
  jge,
  label,
  ld,
  ret,
  type Statement,
} from "../../../src/runtime/linux/seccomp/assemble.js";
import { encode, OP } from "../../../src/runtime/linux/seccomp/bpf.js";
import { disassemble } from "../../../src/runtime/linux/seccomp/disassemble.js";
import { evaluate } from "../../../src/runtime/linux/seccomp/evaluate.js";

const ALLOW = 0x7fff0000;
const errno = (n: number) => 0x00050000 | n;
/** An instruction that leaves A alone, to put distance between a jump and its target. */
const filler = (count: number): Statement[] => Array.from({ length: count }, () => and(0xffffffff));
const run = (statements: Statement[], nr: number) =>
  evaluate(encode(assemble(statements)), { nr, arch: 0 });

describe("assemble", () => {
  it("resolves labels into 8-bit offsets from the next instruction", () => {
    const program = assemble([
      ld(0),
      jeq(7, "yes", "no"),
      label("no"),
      ret(errno(1)),
      label("yes"),
      ret(ALLOW),
    ]);
    expect(program).toEqual([
      { code: OP.LD_ABS, jt: 0, jf: 0, k: 0 },
      { code: OP.JEQ, jt: 1, jf: 0, k: 7 },
      { code: OP.RET, jt: 0, jf: 0, k: errno(1) },
      { code: OP.RET, jt: 0, jf: 0, k: ALLOW },
    ]);
  });

  it("keeps a jump of exactly 255 short and relays one of 256", () => {
    const program = (gap: number) => [
      ld(0),
      jeq(7, "far", "near"),
      label("near"),
      ret(errno(1)),
      ...filler(gap),
      label("far"),
      ret(ALLOW),
    ];
    // Distance to "far" = 1 (the ret) + gap.
    const short = assemble(program(254));
    expect(short[1]).toEqual({ code: OP.JEQ, jt: 255, jf: 0, k: 7 });
    expect(short.some((insn) => insn.code === OP.JA)).toBe(false);

    const long = assemble(program(255));
    expect(long[1]).toEqual({ code: OP.JEQ, jt: 0, jf: 1, k: 7 });
    expect(long[2]).toEqual({ code: OP.JA, jt: 0, jf: 0, k: 256 });
    expect(long).toHaveLength(short.length + 2);
    for (const gap of [254, 255]) {
      expect(run(program(gap), 7)).toEqual({ action: "allow" });
      expect(run(program(gap), 8)).toEqual({ action: "errno", errno: 1 });
    }
  });

  it("relays the false branch, and both branches, when they are far", () => {
    const farFalse = [
      ld(0),
      jeq(7, "near", "far"),
      label("near"),
      ret(ALLOW),
      ...filler(300),
      label("far"),
      ret(errno(2)),
    ];
    expect(run(farFalse, 7)).toEqual({ action: "allow" });
    expect(run(farFalse, 8)).toEqual({ action: "errno", errno: 2 });

    const bothFar = [
      ld(0),
      jeq(7, "a", "b"),
      ...filler(300),
      label("a"),
      ret(errno(3)),
      ...filler(300),
      label("b"),
      ret(errno(4)),
    ];
    const program = assemble(bothFar);
    expect(program.slice(1, 4).map((insn) => insn.code)).toEqual([OP.JEQ, OP.JA, OP.JA]);
    expect(run(bothFar, 7)).toEqual({ action: "errno", errno: 3 });
    expect(run(bothFar, 8)).toEqual({ action: "errno", errno: 4 });
  });

  it("settles when relays push other jumps past the limit", () => {
    // Forty jumps to one target at distances just under 255: each relay added lengthens the
    // jumps before it, which then need relays of their own.
    for (const gap of [200, 214, 215, 216, 230, 260]) {
      const statements = [
        ld(0),
        ...Array.from({ length: 40 }, (_, i) => [
          jeq(i, "hit", `next-${i}`),
          label(`next-${i}`),
        ]).flat(),
        ret(errno(9)),
        ...filler(gap),
        label("hit"),
        ret(ALLOW),
      ];
      const program = assemble(statements);
      for (const insn of program) {
        expect(insn.jt).toBeLessThanOrEqual(255);
        expect(insn.jf).toBeLessThanOrEqual(255);
      }
      for (let nr = 0; nr < 42; nr++) {
        expect(run(statements, nr), `gap ${gap} nr ${nr}`).toEqual(
          nr < 40 ? { action: "allow" } : { action: "errno", errno: 9 },
        );
      }
    }
  });

  it("relays are plain ja instructions, shown as such", () => {
    const lines = disassemble(
      encode(
        assemble([
          ld(0),
          jge(1, "far", "near"),
          label("near"),
          ret(0),
          ...filler(300),
          label("far"),
          ret(ALLOW),
        ]),
      ),
    );
    expect(lines[1]).toBe("0001: 0x35 0x00 0x01 0x00000001  jge #0x1  true:0002 false:0003");
    expect(lines[2]).toBe("0002: 0x05 0x00 0x00 0x0000012d  ja  0304");
    expect(lines[304]).toBe("0304: 0x06 0x00 0x00 0x7fff0000  ret ALLOW");
  });

  it("rejects programs the kernel would reject or that make no sense", () => {
    expect(() => assemble([ja("nowhere"), ret(ALLOW)])).toThrow(/undefined label "nowhere"/);
    expect(() => assemble([label("x"), ret(ALLOW), label("x"), ret(ALLOW)])).toThrow(
      /"x" is defined twice/,
    );
    expect(() => assemble([label("top"), ld(0), ja("top")])).toThrow(/"top" goes backwards/);
    expect(() => assemble([ret(ALLOW), label("end")])).toThrow(/"end" marks no instruction/);
    expect(() => assemble([...filler(4096), ret(ALLOW)])).toThrow(
      /4097 instructions, the kernel takes at most 4096/,
    );
  });
});
