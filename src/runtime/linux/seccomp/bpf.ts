/**
 * Classic BPF (`struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`), limited to the opcodes
 * this filter uses. They are also exactly the opcodes the kernel's seccomp action cache can
 * emulate, so a system call whose verdict depends only on its number and the architecture is
 * decided once at load time and never runs the filter again (kernel >= 5.11).
 */

export interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Opcodes: class | size | mode, or class | op | source (linux/bpf_common.h). */
export const OP = {
  /** A = 32-bit word at seccomp_data[k]. BPF_LD | BPF_W | BPF_ABS */
  LD_ABS: 0x20,
  /** A &= k. BPF_ALU | BPF_AND | BPF_K */
  AND: 0x54,
  /** pc += k. BPF_JMP | BPF_JA */
  JA: 0x05,
  /** pc += (A == k) ? jt : jf, and likewise for >=, >, & (all unsigned). BPF_JMP | op | BPF_K */
  JEQ: 0x15,
  JGT: 0x25,
  JGE: 0x35,
  JSET: 0x45,
  /** Return k. BPF_RET | BPF_K */
  RET: 0x06,
} as const;

const INSTRUCTION_BYTES = 8;

/** The bytes bubblewrap's `--seccomp FD` expects: the sock_filter array, native (little) endian. */
export function encode(program: readonly Instruction[]): Buffer {
  const bytes = Buffer.alloc(program.length * INSTRUCTION_BYTES);
  program.forEach((insn, index) => {
    const at = index * INSTRUCTION_BYTES;
    bytes.writeUInt16LE(insn.code, at);
    bytes.writeUInt8(insn.jt, at + 2);
    bytes.writeUInt8(insn.jf, at + 3);
    bytes.writeUInt32LE(insn.k >>> 0, at + 4);
  });
  return bytes;
}

export function decode(bytes: Uint8Array): Instruction[] {
  if (bytes.length === 0 || bytes.length % INSTRUCTION_BYTES !== 0) {
    throw new Error(
      `seccomp: a filter is a non-empty array of ${INSTRUCTION_BYTES}-byte instructions, got ${bytes.length} bytes`,
    );
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const program: Instruction[] = [];
  for (let at = 0; at < view.length; at += INSTRUCTION_BYTES) {
    program.push({
      code: view.readUInt16LE(at),
      jt: view.readUInt8(at + 2),
      jf: view.readUInt8(at + 3),
      k: view.readUInt32LE(at + 4),
    });
  }
  return program;
}
