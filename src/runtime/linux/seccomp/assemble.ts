import { MAX_INSTRUCTIONS } from "./abi.js";
import { type Instruction, OP } from "./bpf.js";

/**
 * A classic BPF program with symbolic jump targets. Conditional jumps in cBPF carry 8-bit
 * forward offsets; `assemble` resolves labels and, where a target is more than 255 instructions
 * away, routes the jump through a relay (`ja`, whose offset is 32-bit) placed right after it.
 */

export type Label = string;
type Condition = "jeq" | "jge" | "jgt" | "jset";

export type Statement =
  | { op: "label"; name: Label }
  | { op: "ld"; offset: number }
  | { op: "and"; k: number }
  | { op: Condition; k: number; ifTrue: Label; ifFalse: Label }
  | { op: "ja"; to: Label }
  | { op: "ret"; k: number };

export const label = (name: Label): Statement => ({ op: "label", name });
export const ld = (offset: number): Statement => ({ op: "ld", offset });
export const and = (k: number): Statement => ({ op: "and", k });
export const jeq = (k: number, ifTrue: Label, ifFalse: Label): Statement => ({
  op: "jeq",
  k,
  ifTrue,
  ifFalse,
});
export const jge = (k: number, ifTrue: Label, ifFalse: Label): Statement => ({
  op: "jge",
  k,
  ifTrue,
  ifFalse,
});
export const jset = (k: number, ifTrue: Label, ifFalse: Label): Statement => ({
  op: "jset",
  k,
  ifTrue,
  ifFalse,
});
export const ja = (to: Label): Statement => ({ op: "ja", to });
export const ret = (k: number): Statement => ({ op: "ret", k });

type Operation = Exclude<Statement, { op: "label" }>;

const MAX_SHORT_JUMP = 255;
const CONDITION_CODE: Record<Condition, number> = {
  jeq: OP.JEQ,
  jge: OP.JGE,
  jgt: OP.JGT,
  jset: OP.JSET,
};

export function assemble(statements: readonly Statement[]): Instruction[] {
  const { operations, target } = resolveLabels(statements);
  const relays = operations.map(() => ({ ifTrue: false, ifFalse: false }));

  // Relays only ever get added, and each one only lengthens distances, so this settles.
  let positions = layout(relays);
  for (let changed = true; changed; ) {
    changed = false;
    operations.forEach((operation, index) => {
      if (!("ifTrue" in operation)) return;
      const relay = relays[index] as { ifTrue: boolean; ifFalse: boolean };
      const next = (positions[index] as number) + 1;
      for (const branch of ["ifTrue", "ifFalse"] as const) {
        const distance = (positions[target(operation[branch], index)] as number) - next;
        if (!relay[branch] && distance > MAX_SHORT_JUMP) {
          relay[branch] = true;
          changed = true;
        }
      }
    });
    positions = layout(relays);
  }

  const at = (name: Label, from: number): number => positions[target(name, from)] as number;
  const program = operations.flatMap((operation, index): Instruction[] => {
    const here = positions[index] as number;
    switch (operation.op) {
      case "ld":
        return [{ code: OP.LD_ABS, jt: 0, jf: 0, k: operation.offset }];
      case "and":
        return [{ code: OP.AND, jt: 0, jf: 0, k: operation.k }];
      case "ret":
        return [{ code: OP.RET, jt: 0, jf: 0, k: operation.k }];
      case "ja":
        return [{ code: OP.JA, jt: 0, jf: 0, k: at(operation.to, index) - here - 1 }];
      default: {
        const relay = relays[index] as { ifTrue: boolean; ifFalse: boolean };
        const code = CONDITION_CODE[operation.op];
        const trueAt = at(operation.ifTrue, index);
        const falseAt = at(operation.ifFalse, index);
        if (relay.ifTrue && relay.ifFalse) {
          return [
            { code, jt: 0, jf: 1, k: operation.k },
            { code: OP.JA, jt: 0, jf: 0, k: trueAt - here - 2 },
            { code: OP.JA, jt: 0, jf: 0, k: falseAt - here - 3 },
          ];
        }
        if (relay.ifTrue) {
          return [
            { code, jt: 0, jf: falseAt - here - 1, k: operation.k },
            { code: OP.JA, jt: 0, jf: 0, k: trueAt - here - 2 },
          ];
        }
        if (relay.ifFalse) {
          return [
            { code, jt: trueAt - here - 1, jf: 0, k: operation.k },
            { code: OP.JA, jt: 0, jf: 0, k: falseAt - here - 2 },
          ];
        }
        return [{ code, jt: trueAt - here - 1, jf: falseAt - here - 1, k: operation.k }];
      }
    }
  });

  if (program.length > MAX_INSTRUCTIONS) {
    throw new Error(
      `seccomp: the filter has ${program.length} instructions, the kernel takes at most ${MAX_INSTRUCTIONS}`,
    );
  }
  return program;
}

/** Splits labels from operations; `target` maps a label to the index of the operation it marks. */
function resolveLabels(statements: readonly Statement[]): {
  operations: Operation[];
  target: (name: Label, from: number) => number;
} {
  const operations: Operation[] = [];
  const marks = new Map<Label, number>();
  for (const statement of statements) {
    if (statement.op !== "label") {
      operations.push(statement);
    } else if (marks.has(statement.name)) {
      throw new Error(`seccomp: label "${statement.name}" is defined twice`);
    } else {
      marks.set(statement.name, operations.length);
    }
  }
  for (const [name, index] of marks) {
    if (index >= operations.length)
      throw new Error(`seccomp: label "${name}" marks no instruction`);
  }
  const target = (name: Label, from: number): number => {
    const index = marks.get(name);
    if (index === undefined) throw new Error(`seccomp: jump to undefined label "${name}"`);
    // cBPF jumps only forward, which is also why every filter terminates.
    if (index <= from) throw new Error(`seccomp: jump to "${name}" goes backwards`);
    return index;
  };
  return { operations, target };
}

/** Output position of each operation, counting the relays inserted after conditional jumps. */
function layout(relays: readonly { ifTrue: boolean; ifFalse: boolean }[]): number[] {
  let position = 0;
  return relays.map((relay) => {
    const here = position;
    position += 1 + Number(relay.ifTrue) + Number(relay.ifFalse);
    return here;
  });
}
