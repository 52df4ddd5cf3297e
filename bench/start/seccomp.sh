#!/usr/bin/env bash
# Issue 5's seccomp budget: the filter every jail gets adds under 2 ms to a start and under 2% to a
# syscall-heavy workload. The runtime always installs it, so this times bubblewrap itself with and
# without `--seccomp 9` (the real filter bytes on fd 9), everything else equal.
# Usage (from the repository's root): bash bench/start/seccomp.sh
set -euo pipefail
source bench/start/common.sh
record_machine

filter=$OUT/seccomp-default.bpf
npx --no-install tsx bench/start/write-seccomp-filter.ts "$filter"
tree=$CACHE/tree-100k
node bench/start/make-tree.mjs "$tree"
files=$tree/files
true_bin=$(build coreutils)/bin/true
jail=$(minimal_jail)
# find, wc and bash are not in the offline stand-in's package set: this jail binds the host's /usr.
host_jail="$(build bubblewrap)/bin/bwrap --unshare-all --unshare-user --die-with-parent --clearenv
  --setenv PATH /usr/bin --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib
  --symlink usr/lib64 /lib64 --dev /dev --proc /proc --tmpfs /tmp --ro-bind $files $files
  --chdir $files"
host_jail=${host_jail//$'\n' /}

enter_sandbox
# bwrap reads the filter from an fd: `sh -c 'exec bwrap … 9<FILE'` opens it. Both sides open the
# filter and start the same shell, so the only difference is bwrap's `--seccomp 9`.
with_filter() { printf '/bin/sh -c "exec %s 9<%s"' "$1" "$filter"; }
# find reads d_type from getdents64: ~3,000 syscalls for 100,000 files. -size stats every file:
# ~100,000 newfstatat, the syscall-heavy case.
find_all="bash -c 'find . -type f | wc -l'"
find_stat="bash -c 'find . -type f -size +0c | wc -l'"
bench_rounds seccomp-start 6 "-N --warmup 10 --runs 50" \
  "bwrap minimal jail: true" "$(with_filter "$jail $true_bin")" \
  "bwrap minimal jail + seccomp: true" "$(with_filter "$jail --seccomp 9 $true_bin")"
bench_rounds seccomp-find 6 "-N --warmup 2 --runs 8" \
  "find | wc -l" "$(with_filter "$host_jail $find_all")" \
  "find | wc -l + seccomp" "$(with_filter "$host_jail --seccomp 9 $find_all")" \
  "find -size +0c | wc -l" "$(with_filter "$host_jail $find_stat")" \
  "find -size +0c | wc -l + seccomp" "$(with_filter "$host_jail --seccomp 9 $find_stat")"
