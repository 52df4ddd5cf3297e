import { writeSync } from "node:fs";
import { constants } from "node:os";
import { getSystemErrorName } from "node:util";
import { JailSetupError } from "../errors.js";

/**
 * Starting the jail's first process without `node:child_process`. That module loads `net`, the
 * streams and ~20 more of node's modules before it can spawn anything: 3–4 ms of every start here
 * (bench/RESULTS.md), a sixth of what the runtime may add to one. It spawns through the binding
 * below, which is what it calls itself (node's lib/internal/child_process.js); `process.binding`
 * keeps `process_wrap` and `pipe_wrap` on its allow-list, and only node's permission model, which
 * the runtime does not use, turns them off.
 */
interface ProcessHandle {
  pid: number;
  onexit: (exitCode: number, signalCode: string) => void;
  spawn(options: {
    file: string;
    args: readonly string[];
    envPairs: readonly string[];
    stdio: readonly StdioEntry[];
  }): number;
  kill(signal: number): number;
  close(): void;
}

interface PipeHandle {
  readonly fd: number;
  close(): void;
}

type StdioEntry =
  | { type: "fd"; fd: number }
  | { type: "ignore" }
  | { type: "pipe"; handle: PipeHandle };

interface Bindings {
  binding(name: "process_wrap"): { Process: new () => ProcessHandle };
  binding(name: "pipe_wrap"): {
    Pipe: new (type: number) => PipeHandle;
    constants: { SOCKET: number };
  };
}

const bindings = process as unknown as Bindings;

/** What the child gets as one of its fds: one of ours (the same number for "inherit"), none, or a pipe to a `Channel`. */
export type ChildFd = number | "inherit" | "ignore" | "channel";

/** Our end of a child's "channel" fd: words for it, then the end of the stream. */
export interface Channel {
  /** Whether `close` was called, or the child has exited. */
  readonly closed: boolean;
  /** Writes a few bytes at once (they fit an empty socket buffer); false when the child has closed its end. */
  write(text: string): boolean;
  close(): void;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  readonly pid: number;
  /** Signals the child, unless it has exited: its pid may be another process's by then. */
  kill(signal: NodeJS.Signals): void;
  /** Settles when the child exits. */
  readonly exited: Promise<Exit>;
  /** Our end of each "channel" fd, by the child's fd number. */
  readonly channels: ReadonlyMap<number, Channel>;
}

function channel(handle: PipeHandle): Channel {
  let closed = false;
  return {
    get closed() {
      return closed;
    },
    write(text) {
      try {
        writeSync(handle.fd, text);
        return true;
      } catch {
        // EPIPE: node ignores SIGPIPE, and the child's exit says why it stopped reading.
        return false;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      handle.close();
    },
  };
}

/**
 * Spawns `argv` with an empty environment and `fds` as its fds 0, 1, 2, …; throws if it cannot be
 * started (ENOENT, EACCES, …) with the system's name for why.
 */
export function spawnChild(argv: readonly string[], fds: readonly ChildFd[]): Child {
  const file = argv[0];
  if (file === undefined) throw new Error("spawnChild: empty argv");
  const { Pipe, constants: pipeConstants } = bindings.binding("pipe_wrap");
  const channels = new Map<number, Channel>();
  const closeChannels = (): void => {
    for (const open of channels.values()) open.close();
  };
  const stdio = fds.map((fd, index): StdioEntry => {
    if (fd === "ignore") return { type: "ignore" };
    if (fd === "inherit") return { type: "fd", fd: index };
    if (fd !== "channel") return { type: "fd", fd };
    const pipe = new Pipe(pipeConstants.SOCKET);
    channels.set(index, channel(pipe));
    return { type: "pipe", handle: pipe };
  });
  const handle = new (bindings.binding("process_wrap").Process)();
  let running = true;
  const exited = new Promise<Exit>((resolve) => {
    handle.onexit = (exitCode, signalCode) => {
      running = false;
      handle.close();
      closeChannels();
      const signal = signalCode === "" ? null : (signalCode as NodeJS.Signals);
      resolve({ code: signal === null ? exitCode : null, signal });
    };
  });
  const error = handle.spawn({ file, args: argv, envPairs: [], stdio });
  if (error !== 0) {
    handle.close();
    closeChannels();
    throw new JailSetupError(`cannot start ${file}: ${getSystemErrorName(error)}`);
  }
  return {
    pid: handle.pid,
    kill(signal) {
      if (running) handle.kill(constants.signals[signal]);
    },
    exited,
    channels,
  };
}
