import type { Arch } from "./seccomp/abi.js";
import { syscallNumber } from "./seccomp/syscalls.js";

/** Where the jail's first process finds the stager's pipes: high, so nothing the runtime passes is in the way. */
export const READY_FD = 20;
export const GO_FD = 21;

/**
 * The store stager, run with perl (Node cannot call mount(2); perl's syscall() can, with no module and no
 * compiler). It starts bwrap in a user and mount namespace of its own, where:
 * - /nix/store is bound over itself read-only, nosuid and nodev, so every bind taken from it is too
 *   (the flags a user namespace may not clear, noexec and the atime ones, are kept as they are);
 * - the staging directory is an empty tmpfs, shared, that bwrap binds read-only at the jail's /nix/store
 *   (a slave of it), with only the `entry` paths' mount points, for bwrap's own binds;
 * - a forked child, in a mount namespace of its own so that bwrap never sees it, builds the whole store
 *   on a tmpfs in the tree directory (an entry per path, bound; a symlink for a symlink), read-only,
 *   while bwrap sets the jail up. When the jail's first process says it is ready (READY_FD), one
 *   recursive bind puts that tree over the staging directory, and mount propagation carries it over the
 *   jail's /nix/store; then the child answers `ok` (GO_FD). bubblewrap re-parses the mount table after
 *   each of its own binds, so it must never hold thousands of them; and one recursive bind copies the
 *   tree in the kernel, where a bind per path would propagate one by one.
 * Everything here happens in the stager's own namespaces; the host's mount table never changes.
 * Arguments: unshare's and mount's syscall numbers, the staging and tree directories, the list
 * (store-view.ts), then `--` and bwrap's argv.
 */
const STAGER = String.raw`
my ($sys_unshare, $sys_mount, $staging, $tree, $list, $separator, @bwrap) = @ARGV;
my ($MS_RDONLY, $MS_NOSUID, $MS_NODEV, $MS_NOEXEC, $MS_REMOUNT, $MS_NOATIME, $MS_NODIRATIME, $MS_BIND,
  $MS_REC, $MS_PRIVATE, $MS_SHARED, $MS_RELATIME, $MS_STRICTATIME)
  = (1, 2, 4, 8, 32, 1024, 2048, 4096, 16384, 1 << 18, 1 << 20, 1 << 21, 1 << 24);
my ($CLONE_NEWNS, $CLONE_NEWUSER) = (0x00020000, 0x10000000);

sub fail { print STDERR "jailed: cannot set up the jail's /nix/store: @_\n"; exit 2 }
$separator eq '--' && @bwrap or fail('bad arguments');

# syscall() passes a string by its address and a number as is: a numeric 0 is NULL. Copies ("$x")
# because perl refuses to hand out the address of a constant.
sub mount_at {
  my ($source, $target, $type, $flags) = @_;
  syscall($sys_mount, defined $source ? "$source" : 0, "$target", defined $type ? "$type" : 0, $flags, 0) == 0
    or fail("mount $target: $!");
}

sub write_file {
  my ($path, $text) = @_;
  my $fh;
  open($fh, '>', $path) && print($fh $text) && close($fh) or fail("$path: $!");
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

# Makes the mount point for a store path in $dir; returns it, or undef for a symlink, made as one.
sub make_entry {
  my ($dir, $path) = @_;
  my ($name) = $path =~ m{^/nix/store/([^/]+)$};
  defined $name && $name ne '.' && $name ne '..' or fail("not a store path: $path");
  my $entry = "$dir/$name";
  if (-l $path) { symlink(readlink($path), $entry) or fail("$entry: $!"); return undef }
  if (-d _) { mkdir($entry) or fail("$entry: $!") }
  # sysopen (O_WRONLY | O_CREAT): open() would add an fstat, an ioctl and an lseek per file.
  elsif (-e _) { my $file; sysopen($file, $entry, 1 | 64) && close($file) or fail("$entry: $!") }
  else { fail("$path is missing") }
  return $entry;
}

my $uid = $<;
my ($gid) = split / /, $(;
syscall($sys_unshare, $CLONE_NEWUSER | $CLONE_NEWNS) == 0 or fail("unshare(CLONE_NEWUSER | CLONE_NEWNS): $!");
write_file('/proc/self/setgroups', 'deny');
write_file('/proc/self/uid_map', "$uid $uid 1");
write_file('/proc/self/gid_map', "$gid $gid 1");
mount_at(undef, '/', undef, $MS_REC | $MS_PRIVATE);
mount_at('/nix/store', '/nix/store', undef, $MS_BIND | $MS_REC);
mount_at(undef, '/nix/store', undef,
  $MS_BIND | $MS_REMOUNT | $MS_RDONLY | $MS_NOSUID | $MS_NODEV | locked_flags('/nix/store'));
mount_at('tmpfs', $staging, 'tmpfs', $MS_NOSUID | $MS_NODEV);
mount_at(undef, $staging, undef, $MS_SHARED);

my (@entries, @paths);
open(my $fh, '<', $list) or fail("$list: $!");
while (my $line = <$fh>) {
  chomp $line;
  my ($kind, $path) = split / /, $line, 2;
  push @entries, $path if $kind eq 'entry';
  push @paths, $path;
}
close($fh);
# bwrap binds these itself, onto a read-only /nix/store where it cannot make their mount points.
make_entry($staging, $_) for @entries;

pipe(my $ready_in, my $ready_out) && pipe(my $go_in, my $go_out) or fail("pipe: $!");
my $pid = fork();
defined $pid or fail("fork: $!");
if ($pid == 0) {
  close($ready_out);
  close($go_in);
  syscall($sys_unshare, $CLONE_NEWNS) == 0 or fail("unshare(CLONE_NEWNS): $!");
  mount_at('tmpfs', $tree, 'tmpfs', $MS_NOSUID | $MS_NODEV);
  for my $path (@paths) {
    my $entry = make_entry($tree, $path);
    # Store paths hold no mounts of their own: a plain bind is the whole path.
    mount_at($path, $entry, undef, $MS_BIND) if defined $entry;
  }
  mount_at(undef, $tree, undef, $MS_BIND | $MS_REMOUNT | $MS_RDONLY | $MS_NOSUID | $MS_NODEV);
  # End of file: the jail never started, and bwrap has said why.
  sysread($ready_in, my $byte, 1) or exit 0;
  mount_at($tree, $staging, undef, $MS_BIND | $MS_REC);
  syswrite($go_out, "ok\n") or exit 2;
  exit 0;
}
close($ready_in);
close($go_out);
# F_DUPFD (0) gives the lowest free fd from the one asked, without close-on-exec: bwrap passes it on.
fcntl($ready_out, 0, ${READY_FD}) == ${READY_FD} && fcntl($go_in, 0, ${GO_FD}) == ${GO_FD} or fail("fd: $!");
exec { $bwrap[0] } @bwrap or fail("exec $bwrap[0]: $!");
`;

/** argv that runs `bwrapArgv` under the stager. */
export function stagerArgv(
  perl: string,
  arch: Arch,
  dirs: { staging: string; tree: string },
  listFile: string,
  bwrapArgv: readonly string[],
): string[] {
  const numbers = (["unshare", "mount"] as const).map((name) => {
    const number = syscallNumber(name, arch);
    if (number === null) throw new Error(`no ${name} syscall on ${arch}`);
    return String(number);
  });
  return [perl, "-e", STAGER, ...numbers, dirs.staging, dirs.tree, listFile, "--", ...bwrapArgv];
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
