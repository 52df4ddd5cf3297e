/** Who runs the jail, as the synthesised /etc describes them. */
export interface JailUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * The /etc files the jail sees. Only the running user (and nobody) exist in passwd, so the jail learns
 * nothing about the host's other accounts; hosts knows only localhost, so every other name goes through
 * the proxy, which resolves it itself.
 */
export function synthesiseEtc(user: JailUser): Record<string, string> {
  const passwd = [`${user.name}:x:${user.uid}:${user.gid}::${user.home}:/bin/sh`];
  const group = [`${user.name}:x:${user.gid}:`];
  if (user.uid !== 65534) passwd.push("nobody:x:65534:65534:nobody:/var/empty:/bin/sh");
  if (user.gid !== 65534) group.push("nogroup:x:65534:");
  return {
    passwd: `${passwd.join("\n")}\n`,
    group: `${group.join("\n")}\n`,
    hosts: "127.0.0.1 localhost\n::1 localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
  };
}
