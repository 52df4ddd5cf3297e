import { SECCOMP_DATA } from "./abi.js";
import { decode, type Instruction, OP } from "./bpf.js";
import { verdictOf } from "./evaluate.js";

/**
 * One line per instruction, in the spirit of libseccomp's scmp_bpf_disasm: position, the raw
 * fields, then the operation with jump targets as absolute positions, e.g.
 *   0004: 0x15 0x00 0x05 0xc000003e  jeq #0xc000003e  true:0005 false:0010
 */
export function disassemble(filter: Uint8Array): string[] {
  return decode(filter).map(
    (insn, pc) =>
      `${position(pc)}: ${hex(insn.code, 2)} ${hex(insn.jt, 2)} ${hex(insn.jf, 2)} ${hex(insn.k, 8)}  ${operation(insn, pc)}`,
  );
}

const CONDITIONS = new Map<number, string>([
  [OP.JEQ, "jeq"],
  [OP.JGT, "jgt"],
  [OP.JGE, "jge"],
  [OP.JSET, "jset"],
]);

function operation({ code, jt, jf, k }: Instruction, pc: number): string {
  const condition = CONDITIONS.get(code);
  if (condition !== undefined) {
    return `${condition} #0x${k.toString(16)}  true:${position(pc + 1 + jt)} false:${position(pc + 1 + jf)}`;
  }
  switch (code) {
    case OP.LD_ABS:
      return `ld  [${k}]  ; ${fieldName(k)}`;
    case OP.AND:
      return `and #0x${k.toString(16)}`;
    case OP.JA:
      return `ja  ${position(pc + 1 + k)}`;
    case OP.RET: {
      const verdict = verdictOf(k);
      const name = verdict.action.toUpperCase();
      return verdict.action === "errno" ? `ret ${name}(${verdict.errno})` : `ret ${name}`;
    }
    default:
      return "(unsupported opcode)";
  }
}

function fieldName(offset: number): string {
  if (offset === SECCOMP_DATA.nr) return "nr";
  if (offset === SECCOMP_DATA.arch) return "arch";
  const half = offset % 8 === 0 ? "low" : "high";
  if (offset < SECCOMP_DATA.args) return `instruction_pointer (${half})`;
  if (offset < SECCOMP_DATA.size) {
    return `args[${Math.floor((offset - SECCOMP_DATA.args) / 8)}] (${half})`;
  }
  return "outside seccomp_data";
}

const position = (pc: number): string => String(pc).padStart(4, "0");
const hex = (value: number, digits: number): string =>
  `0x${value.toString(16).padStart(digits, "0")}`;
