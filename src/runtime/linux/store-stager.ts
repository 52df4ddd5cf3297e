import { kernelAtLeast } from "./kernel.js";
import type { Arch } from "./seccomp/abi.js";
import { syscallNumber } from "./seccomp/syscalls.js";

/** Where the jail's first process finds the stager's pipes: high, so nothing the runtime passes is in the way. */
export const READY_FD = 20;
export const GO_FD = 21;
/**
 * Where the stager reads the runtime's word to start bwrap: the runtime spawns it as soon as it knows
 * the closure, so that the clones, the longest part of a big closure's start, overlap the rest of
 * the runtime's setup; bwrap's command line is not known until that is done.
 */
export const LAUNCH_FD = 8;

/**
 * The store stager, run with perl (Node cannot call mount(2); perl's syscall() can, with no module and no
 * compiler). It starts bwrap, when the runtime says `go` on LAUNCH_FD, with the command line the launch
 * file holds (NUL-terminated words, as bwrap's `--args`), in a user and mount namespace of its own, where:
 * - /nix/store is bound over itself read-only, nosuid and nodev, so every mount cloned from it is too
 *   (the flags a user namespace may not clear, noexec and the atime ones, are kept as they are);
 * - when the build made no mount points, it mounts a tmpfs on the staging directory, which bwrap binds
 *   read-only at the jail's /nix/store, and makes the mount points of the entries there (the paths
 *   bwrap binds itself) before bwrap starts;
 * - a forked child, while bwrap sets the jail up, clones each store path (open_tree), making its
 *   mount point first if need be (a symlink path is made as the symlink, and not cloned). Where the
 *   kernel mounts onto detached trees (Linux 6.15), it builds the jail's whole /nix/store that way:
 *   a clone of the directory of mount points, each path's clone moved onto it, the entries' too.
 *   When the jail's first process says it is ready (READY_FD), the child enters the jail's mount
 *   namespace (bwrap's status file names the jail's init) and attaches the tree over the jail's
 *   /nix/store with one move_mount (the shell keeps running from bwrap's binds underneath), or, on
 *   an older kernel, moves each clone onto its mount point there; then it answers `ok` (GO_FD).
 * bubblewrap re-parses the mount table after each of its own binds, so it must never hold thousands of
 * them. Attaching the tree takes ~0.3 ms for 2,000 paths, where moving each clone in takes ~4 on the
 * jail's path. Everything happens in the stager's own namespaces and the jail's; the host's mount
 * table never changes.
 * Arguments: the syscall numbers (`name=number,…`), `tree` or `each`, bwrap's status file, the
 * directory of mount points (the build's, or the staging directory), the entries' list, the list of
 * the other paths, the staging directory (empty when the build made the mount points), and the launch
 * file. Without the word (its fd closes first) it exits 2 quietly: the runtime's setup failed, and
 * the runtime says why.
 */
const STAGER = String.raw`
my %sys = map { split /=/ } split /,/, shift @ARGV;
my ($attach, $status, $root, $entries, $clones, $staging, $launch) = @ARGV;
my ($MS_RDONLY, $MS_NOSUID, $MS_NODEV, $MS_NOEXEC, $MS_REMOUNT, $MS_NOATIME, $MS_NODIRATIME, $MS_BIND,
  $MS_REC, $MS_PRIVATE, $MS_RELATIME, $MS_STRICTATIME)
  = (1, 2, 4, 8, 32, 1024, 2048, 4096, 16384, 1 << 18, 1 << 21, 1 << 24);
my ($CLONE_NEWNS, $CLONE_NEWUSER) = (0x00020000, 0x10000000);
my ($AT_FDCWD, $O_PATH, $O_DIRECTORY, $O_CLOEXEC, $S_IFREG) = (-100, 0x200000, 0x10000, 0x80000, 0x8000);
my ($OPEN_TREE_CLONE, $MOVE_MOUNT_F_EMPTY_PATH) = (1, 4);

sub fail { print STDERR "jailed: cannot set up the jail's /nix/store: @_\n"; exit 2 }
@ARGV == 7 && $attach =~ /^(tree|each)$/ or fail('bad arguments');
my $whole = $attach eq 'tree';
my $make = $staging ne '';

# syscall() passes a string by its address and a number as is: a numeric 0 is NULL. Copies ("$x")
# because perl refuses to hand out the address of a constant.
sub mount_at {
  my ($source, $target, $type, $flags) = @_;
  syscall($sys{mount}, defined $source ? "$source" : 0, "$target", defined $type ? "$type" : 0, $flags, 0) == 0
    or fail("mount $target: $!");
}

sub write_file {
  my ($path, $text) = @_;
  my $fh;
  open($fh, '>', $path) && print($fh $text) && close($fh) or fail("$path: $!");
}

sub lines_of {
  my ($path) = @_;
  open(my $fh, '<', $path) or fail("$path: $!");
  chomp(my @lines = <$fh>);
  return @lines;
}

# The flags a user namespace may not change on a mount the host made.
sub locked_flags {
  my ($target) = @_;
  my $options;
  open(my $fh, '<', '/proc/self/mountinfo') or fail("/proc/self/mountinfo: $!");
  while (my $line = <$fh>) {
    my @fields = split / /, $line;
    $options = $fields[5] if $fields[4] eq $target;
  }
  close($fh);
  defined $options or fail("$target is not in the mount table");
  my %set = map { $_ => 1 } split /,/, $options;
  return ($set{noexec} ? $MS_NOEXEC : 0) | ($set{noatime} ? $MS_NOATIME : 0)
    | ($set{nodiratime} ? $MS_NODIRATIME : 0) | ($set{relatime} ? $MS_RELATIME : 0)
    | ($set{noatime} || $set{relatime} ? 0 : $MS_STRICTATIME);
}

sub name_of {
  my ($path) = @_;
  my ($name) = $path =~ m{^/nix/store/([^/]+)$};
  defined $name && $name ne '.' && $name ne '..' or fail("not a store path: $path");
  return $name;
}

# Makes the mount point for a store path in $staging; returns its name, or undef for a symlink, made as one.
sub make_entry {
  my ($path) = @_;
  my $name = name_of($path);
  my $entry = "$staging/$name";
  if (-l $path) { symlink(readlink($path), $entry) or fail("$entry: $!"); return undef }
  if (-d _) { mkdir($entry) or fail("$entry: $!") }
  # mknod: a regular file without the open and close that creating it by open() costs.
  elsif (-e _) { syscall($sys{mknodat}, $AT_FDCWD, $entry, $S_IFREG | 0444, 0) == 0 or fail("$entry: $!") }
  else { fail("$path is missing") }
  return $name;
}

# The host pid of bwrap's init, from the line bwrap writes before it lets the jail start.
sub jail_pid {
  open(my $fh, '<', $status) or fail("$status: $!");
  my $text = do { local $/; <$fh> };
  my ($pid) = $text =~ /"child-pid":\s*(\d+)/ or fail("bwrap's status names no child pid");
  return $pid;
}

my $uid = $<;
my ($gid) = split / /, $(;
syscall($sys{unshare}, $CLONE_NEWUSER | $CLONE_NEWNS) == 0 or fail("unshare(CLONE_NEWUSER | CLONE_NEWNS): $!");
write_file('/proc/self/setgroups', 'deny');
write_file('/proc/self/uid_map', "$uid $uid 1");
write_file('/proc/self/gid_map', "$gid $gid 1");
mount_at(undef, '/', undef, $MS_REC | $MS_PRIVATE);
mount_at('/nix/store', '/nix/store', undef, $MS_BIND | $MS_REC);
mount_at(undef, '/nix/store', undef,
  $MS_BIND | $MS_REMOUNT | $MS_RDONLY | $MS_NOSUID | $MS_NODEV | locked_flags('/nix/store'));
if ($make) {
  mount_at('tmpfs', $staging, 'tmpfs', $MS_NOSUID | $MS_NODEV);
  # bwrap binds these itself, onto a read-only /nix/store where it cannot make their mount points.
  make_entry($_) for lines_of($entries);
}

pipe(my $ready_in, my $ready_out) && pipe(my $go_in, my $go_out) or fail("pipe: $!");
my $pid = fork();
defined $pid or fail("fork: $!");
if ($pid == 0) {
  close($ready_out);
  close($go_in);
  my $tree = $whole ? syscall($sys{open_tree}, $AT_FDCWD, "$root", $OPEN_TREE_CLONE | $O_CLOEXEC) : 0;
  $tree >= 0 or fail("open_tree $root: $!");
  # Each clone is looked up by name in the store, not by its whole path from /.
  sysopen(my $host_store, '/nix/store', $O_PATH | $O_DIRECTORY) or fail("/nix/store: $!");
  my $empty = '';
  # The entries are in the jail already (bwrap binds them), so only a whole tree needs them.
  my @paths = ((map { [$_, 0] } ($whole ? lines_of($entries) : ())), (map { [$_, $make] } lines_of($clones)));
  my @clones;
  for my $path (@paths) {
    my ($store_path, $make_point) = @$path;
    my $name = $make_point ? make_entry($store_path) : name_of($store_path);
    next unless defined $name;
    # Store paths hold no mounts of their own: a plain clone is the whole path.
    my $clone = syscall($sys{open_tree}, fileno($host_store), $name, $OPEN_TREE_CLONE | $O_CLOEXEC);
    $clone >= 0 or fail("open_tree $store_path: $!");
    if ($whole) {
      syscall($sys{move_mount}, $clone, $empty, $tree, $name, $MOVE_MOUNT_F_EMPTY_PATH) == 0
        or fail("move_mount $name: $!");
    } else {
      push @clones, [$clone, $name];
    }
  }
  # End of file: the jail never started, and bwrap has said why.
  sysread($ready_in, my $byte, 1) or exit 0;
  sysopen(my $own_ns, '/proc/self/ns/mnt', 0) or fail("/proc/self/ns/mnt: $!");
  sysopen(my $ns, '/proc/' . jail_pid() . '/ns/mnt', 0) or fail("the jail's mount namespace: $!");
  syscall($sys{setns}, fileno($ns), $CLONE_NEWNS) == 0 or fail("setns: $!");
  if ($whole) {
    # Over the directory of mount points bwrap bound, and the entries it bound onto it.
    my $store = '/nix/store';
    syscall($sys{move_mount}, $tree, $empty, $AT_FDCWD, $store, $MOVE_MOUNT_F_EMPTY_PATH) == 0
      or fail("move_mount /nix/store: $!");
  } else {
    # Resolved in the jail, where /nix/store is the directory of mount points bwrap bound.
    sysopen(my $store, '/nix/store', $O_PATH | $O_DIRECTORY) or fail("/nix/store: $!");
    for my $clone (@clones) {
      my ($fd, $name) = @$clone;
      syscall($sys{move_mount}, $fd, $empty, fileno($store), $name, $MOVE_MOUNT_F_EMPTY_PATH) == 0
        or fail("move_mount $name: $!");
    }
  }
  # Back out, so that the jail's mounts go with the jail, not with this process's exit.
  syscall($sys{setns}, fileno($own_ns), $CLONE_NEWNS) == 0 or fail("setns: $!");
  syswrite($go_out, "ok\n") or exit 2;
  exit 0;
}
close($ready_in);
close($go_out);
# F_DUPFD (0) gives the lowest free fd from the one asked, without close-on-exec: bwrap passes it on.
fcntl($ready_out, 0, ${READY_FD}) == ${READY_FD} && fcntl($go_in, 0, ${GO_FD}) == ${GO_FD} or fail("fd: $!");
open(my $word_in, '<&=', ${LAUNCH_FD}) or fail("fd ${LAUNCH_FD}: $!");
my $word = <$word_in>;
close($word_in);
exit 2 unless defined $word && $word eq "go\n";
my @bwrap = do { local $/ = "\0"; lines_of($launch) };
@bwrap or fail("$launch holds no command");
exec { $bwrap[0] } @bwrap or fail("exec $bwrap[0]: $!");
`;

/** The system calls the stager makes, by name; perl has no names for them. */
const STAGER_SYSCALLS = [
  "unshare",
  "mount",
  "mknodat",
  "open_tree",
  "move_mount",
  "setns",
] as const;

export interface StagerInputs {
  /**
   * Whether the kernel mounts onto detached trees (kernelMountsOnDetachedTrees): the stager then
   * attaches the whole store at once, else it moves each path in.
   */
  wholeTree: boolean;
  /** bwrap's status file: it names the jail's init, whose mount namespace the stager enters. */
  status: string;
  /** The directory of mount points, cloned as the root of the jail's /nix/store. */
  root: string;
  /** The paths bwrap binds itself (the shell's closure), a line each; their mount points exist. */
  entries: string;
  /** Every other path, a line each. */
  clones: string;
  /**
   * Null when the build made the mount points; else the empty directory (`root`) to make them in, on
   * a tmpfs: the entries' before bwrap starts, the others' as they are cloned.
   */
  staging: string | null;
  /** The file that holds bwrap's command line once the runtime says go (encodeArgs). */
  launch: string;
}

/** Linux 6.15 lets a mount go onto a detached mount tree (move_mount onto an open_tree clone). */
export function kernelMountsOnDetachedTrees(release: string): boolean {
  return kernelAtLeast(release, 6, 15);
}

/** argv of the stager, which runs bwrap when it is told to (LAUNCH_FD). */
export function stagerArgv(perl: string, arch: Arch, inputs: StagerInputs): string[] {
  const numbers = STAGER_SYSCALLS.map((name) => {
    const number = syscallNumber(name, arch);
    if (number === null) throw new Error(`no ${name} syscall on ${arch}`);
    return `${name}=${number}`;
  });
  return [
    perl,
    "-e",
    STAGER,
    numbers.join(","),
    inputs.wholeTree ? "tree" : "each",
    inputs.status,
    inputs.root,
    inputs.entries,
    inputs.clones,
    inputs.staging ?? "",
    inputs.launch,
  ];
}

/**
 * The bash lines, first in the jail's first process (entry.ts), that tell the stager the jail is set
 * up, wait until the whole closure is there, and close both pipes before anything else runs. Bash
 * builtins only: until then the store holds only bash's own closure.
 */
export const STAGED_STORE_STEP = [
  // A stager that already failed has closed the pipe: go on to read its (missing) answer, not die of SIGPIPE.
  `trap '' PIPE; printf . >&${READY_FD}; exec ${READY_FD}>&-; trap - PIPE`,
  `IFS= read -r go <&${GO_FD}; exec ${GO_FD}<&-`,
  `[[ $go == ok ]] || { echo "jailed: the jail's /nix/store is incomplete; not starting" >&2; exit 2; }`,
].join("\n");
