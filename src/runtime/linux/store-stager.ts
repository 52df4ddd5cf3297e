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
 * - the staging directory is a tmpfs, shared, so that binds made in it later propagate into bwrap's
 *   copy, which is a slave of it; bwrap binds it read-only at the jail's /nix/store;
 * - a forked child makes an empty entry per `bind` path (a symlink for a symlink) while bwrap starts,
 *   waits for the jail's first process to say the jail is set up (READY_FD), binds each path onto its
 *   entry, and answers `ok` (GO_FD). It binds only then so that bubblewrap, which re-parses the mount
 *   table after each of its own binds, never sees thousands of mounts. Store paths hold no mounts of
 *   their own, so a non-recursive bind is the whole path.
 * Everything here happens in the stager's own namespaces; the host's mount table never changes.
 * Arguments: unshare's and mount's syscall numbers, the staging directory, the list (store-view.ts),
 * then `--` and bwrap's argv.
 */
const STAGER = String.raw`
my ($sys_unshare, $sys_mount, $staging, $list, $separator, @bwrap) = @ARGV;
my ($MS_RDONLY, $MS_NOSUID, $MS_NODEV, $MS_NOEXEC, $MS_REMOUNT, $MS_NOATIME, $MS_NODIRATIME, $MS_BIND,
  $MS_REC, $MS_PRIVATE, $MS_SHARED, $MS_RELATIME, $MS_STRICTATIME)
  = (1, 2, 4, 8, 32, 1024, 2048, 4096, 16384, 1 << 18, 1 << 20, 1 << 21, 1 << 24);

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

my $uid = $<;
my ($gid) = split / /, $(;
syscall($sys_unshare, 0x10000000 | 0x00020000) == 0 or fail("unshare(CLONE_NEWUSER | CLONE_NEWNS): $!");
write_file('/proc/self/setgroups', 'deny');
write_file('/proc/self/uid_map', "$uid $uid 1");
write_file('/proc/self/gid_map', "$gid $gid 1");
mount_at(undef, '/', undef, $MS_REC | $MS_PRIVATE);
mount_at('/nix/store', '/nix/store', undef, $MS_BIND | $MS_REC);
mount_at(undef, '/nix/store', undef,
  $MS_BIND | $MS_REMOUNT | $MS_RDONLY | $MS_NOSUID | $MS_NODEV | locked_flags('/nix/store'));
mount_at('tmpfs', $staging, 'tmpfs', $MS_NOSUID | $MS_NODEV);
mount_at(undef, $staging, undef, $MS_SHARED);

sub make_entry {
  my ($path) = @_;
  my ($name) = $path =~ m{^/nix/store/([^/]+)$};
  defined $name && $name ne '.' && $name ne '..' or fail("not a store path: $path");
  my $entry = "$staging/$name";
  if (-l $path) { symlink(readlink($path), $entry) or fail("$entry: $!"); return undef }
  if (-d _) { mkdir($entry) or fail("$entry: $!") }
  elsif (-e _) { my $file; open($file, '>', $entry) && close($file) or fail("$entry: $!") }
  else { fail("$path is missing") }
  return $entry;
}

my (@entries, @binds);
open(my $fh, '<', $list) or fail("$list: $!");
while (my $line = <$fh>) {
  chomp $line;
  my ($kind, $path) = split / /, $line, 2;
  push @{ $kind eq 'bind' ? \@binds : \@entries }, $path;
}
close($fh);
# bwrap binds these itself, onto a read-only /nix/store where it cannot make their mount points.
make_entry($_) for @entries;

pipe(my $ready_in, my $ready_out) && pipe(my $go_in, my $go_out) or fail("pipe: $!");
my $pid = fork();
defined $pid or fail("fork: $!");
if ($pid == 0) {
  close($ready_out);
  close($go_in);
  # The staging tmpfs is the one bwrap binds, so these show up in the jail while bwrap sets it up.
  my @mounts = grep { defined $_->[1] } map { [$_, make_entry($_)] } @binds;
  # End of file: the jail never started, and bwrap has said why.
  sysread($ready_in, my $byte, 1) or exit 0;
  mount_at($_->[0], $_->[1], undef, $MS_BIND) for @mounts;
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
  stagingDir: string,
  listFile: string,
  bwrapArgv: readonly string[],
): string[] {
  const numbers = (["unshare", "mount"] as const).map((name) => {
    const number = syscallNumber(name, arch);
    if (number === null) throw new Error(`no ${name} syscall on ${arch}`);
    return String(number);
  });
  return [perl, "-e", STAGER, ...numbers, stagingDir, listFile, "--", ...bwrapArgv];
}

/**
 * argv for the jail's first process: tell the stager the jail is set up, wait until the whole closure is
 * there, then exec `argv` without the pipes. Bash builtins only: until then the store holds only bash's
 * own closure.
 */
export function withStagedStore(argv: readonly string[], sh: string): string[] {
  const script = [
    // A stager that already failed has closed the pipe: go on to read its (missing) answer, not die of SIGPIPE.
    `trap '' PIPE; printf . >&${READY_FD}; exec ${READY_FD}>&-; trap - PIPE`,
    `IFS= read -r go <&${GO_FD}; exec ${GO_FD}<&-`,
    `[[ $go == ok ]] || { echo "jailed: the jail's /nix/store is incomplete; not starting" >&2; exit 2; }`,
    'exec "$@"',
  ].join("\n");
  return [sh, "-c", script, "jailed", ...argv];
}
