// Writes the seccomp filter the runtime gives a `hardening = "default"` jail (the bytes bwrap reads
// from `--seccomp FD`) to a file. Usage: npx tsx bench/start/write-seccomp-filter.ts FILE
import { writeFileSync } from "node:fs";
import { buildSeccompFilter, hostArch } from "../../src/runtime/linux/seccomp/index.js";

const file = process.argv[2];
if (file === undefined) throw new Error("usage: write-seccomp-filter.ts FILE");
writeFileSync(file, buildSeccompFilter("default", hostArch()));
