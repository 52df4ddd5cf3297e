/** Whether a kernel release (`uname -r`) is at least `major.minor`; false for one it cannot read. */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (match === null) return false;
  const [releaseMajor, releaseMinor] = [Number(match[1]), Number(match[2])];
  return releaseMajor > major || (releaseMajor === major && releaseMinor >= minor);
}
