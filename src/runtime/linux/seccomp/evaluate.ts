import { SECCOMP_DATA, SECCOMP_RET, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_DATA } from "./abi.js";
import { decode, OP } from "./bpf.js";

/**
 * A classic-BPF interpreter for the opcodes in bpf.ts, run on a `seccomp_data` the way the
 * kernel runs a filter on each system call. It exists to test filters on values.
 */

export interface SeccompData {
  nr: number;
  /** AUDIT_ARCH_* value. */
  arch: number;
  /** Up to six; missing ones are 0. Negative values are taken modulo 2^64, as registers hold them. */
  args?: readonly bigint[];
  instructionPointer?: bigint;
}

export type Action =
  | "kill_process"
  | "kill_thread"
  | "trap"
  | "errno"
  | "user_notif"
  | "trace"
  | "log"
  | "allow";

export type Verdict = { action: "errno"; errno: number } | { action: Exclude<Action, "errno"> };

const ACTIONS = new Map<number, Action>([
  [SECCOMP_RET.KILL_PROCESS, "kill_process"],
  [SECCOMP_RET.KILL_THREAD, "kill_thread"],
  [SECCOMP_RET.TRAP, "trap"],
  [SECCOMP_RET.ERRNO, "errno"],
  [SECCOMP_RET.USER_NOTIF, "user_notif"],
  [SECCOMP_RET.TRACE, "trace"],
  [SECCOMP_RET.LOG, "log"],
  [SECCOMP_RET.ALLOW, "allow"],
]);

/** What a filter's return value tells the kernel to do. */
export function verdictOf(returned: number): Verdict {
  // The kernel kills the process on an action value it does not know.
  const action = ACTIONS.get((returned & SECCOMP_RET_ACTION_FULL) >>> 0) ?? "kill_process";
  return action === "errno" ? { action, errno: returned & SECCOMP_RET_DATA } : { action };
}

export function evaluate(filter: Uint8Array, data: SeccompData): Verdict {
  const program = decode(filter);
  const input = seccompDataBytes(data);
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const { code, jt, jf, k } = program[pc] as (typeof program)[number];
    switch (code) {
      case OP.LD_ABS:
        if (k % 4 !== 0 || k + 4 > SECCOMP_DATA.size) {
          throw new Error(`seccomp: instruction ${pc} loads outside seccomp_data (offset ${k})`);
        }
        a = input.readUInt32LE(k);
        break;
      case OP.AND:
        a = (a & k) >>> 0;
        break;
      case OP.JA:
        pc += k;
        break;
      case OP.JEQ:
        pc += a === k ? jt : jf;
        break;
      case OP.JGT:
        pc += a > k ? jt : jf;
        break;
      case OP.JGE:
        pc += a >= k ? jt : jf;
        break;
      case OP.JSET:
        pc += (a & k) !== 0 ? jt : jf;
        break;
      case OP.RET:
        return verdictOf(k);
      default:
        throw new Error(`seccomp: instruction ${pc} has unsupported opcode 0x${code.toString(16)}`);
    }
  }
  throw new Error("seccomp: the filter ran past its last instruction");
}

function seccompDataBytes({ nr, arch, args = [], instructionPointer = 0n }: SeccompData): Buffer {
  if (args.length > 6)
    throw new Error(`seccomp: a system call has 6 arguments, got ${args.length}`);
  const bytes = Buffer.alloc(SECCOMP_DATA.size);
  bytes.writeUInt32LE(nr >>> 0, SECCOMP_DATA.nr);
  bytes.writeUInt32LE(arch >>> 0, SECCOMP_DATA.arch);
  bytes.writeBigUInt64LE(BigInt.asUintN(64, instructionPointer), SECCOMP_DATA.instructionPointer);
  args.forEach((value, index) => {
    bytes.writeBigUInt64LE(BigInt.asUintN(64, value), SECCOMP_DATA.args + 8 * index);
  });
  return bytes;
}
