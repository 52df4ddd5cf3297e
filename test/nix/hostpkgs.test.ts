// test/hostpkgs, the offline stand-in for nixpkgs: its packages run with their
// Nix closure alone (in bwrap, no /usr, no /lib), and its builders behave as
// nixpkgs' do.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join, normalize } from "node:path";
import forge from "node-forge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  closureOf,
  nixBuild,
  nixEnv,
  nixEvalError,
  nixEvalJson,
  repoRoot,
} from "../support/nix.js";

const hostpkgs = join(repoRoot, "test", "hostpkgs");

/** Nix text importing the stand-in; Claude Code allowed by predicate, as jailed's flake does. */
const importHostpkgs = (args = `config.allowUnfreePredicate = pkg: pkg.pname == "claude-code";`) =>
  `(import ${hostpkgs} { ${args} })`;

/** Each package, and a command that shows it working with its closure alone. */
const RUNS = {
  bash: { argv: ["bash", "-c", "echo $BASH_VERSION"], expected: (v: string) => `${v}(1)-release` },
  coreutils: { argv: ["ls", "/"], expected: () => "dev\nhome\nnix\nproc\ntmp\n" },
  bubblewrap: { argv: ["bwrap", "--version"], expected: (v: string) => `bubblewrap ${v}` },
  socat: { argv: ["socat", "-V"], expected: (v: string) => `socat version ${v} ` },
  nodejs: {
    argv: ["node", "-e", "console.log(process.version, require('node:crypto').hash('sha256', ''))"],
    expected: (v: string) =>
      `v${v} e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`,
  },
  curl: { argv: ["curl", "--version"], expected: (v: string) => `curl ${v} ` },
  git: { argv: ["git", "--version"], expected: (v: string) => `git version ${v}` },
  codex: { argv: ["codex", "--version"], expected: (v: string) => `codex-cli ${v}` },
  "claude-code": { argv: ["claude", "--version"], expected: (v: string) => `${v} (Claude Code)` },
  "gemini-cli": { argv: ["gemini", "--version"], expected: (v: string) => v },
} as const;
type Attr = keyof typeof RUNS;
const ATTRS = Object.keys(RUNS) as Attr[];

interface Built {
  out: string;
  version: string;
  /** The closureInfo of the package alone. */
  closureInfo: string;
}
let built: Record<Attr, Built>;

beforeAll(() => {
  execFileSync("bash", [join(hostpkgs, "install-agents.sh")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const names = `[ ${ATTRS.map((a) => JSON.stringify(a)).join(" ")} ]`;
  const lines = nixBuild(
    `let pkgs = ${importHostpkgs()}; names = ${names}; in
     map (n: pkgs.\${n}) names ++ map (n: pkgs.closureInfo { rootPaths = [ pkgs.\${n} ]; }) names`,
  ).split("\n");
  const versions = nixEvalJson(
    `let pkgs = ${importHostpkgs()}; in map (n: pkgs.\${n}.version) ${names}`,
  ) as string[];
  built = Object.fromEntries(
    ATTRS.map((attr, i) => [
      attr,
      {
        out: must(lines[i]),
        version: must(versions[i]),
        closureInfo: must(lines[ATTRS.length + i]),
      },
    ]),
  ) as Record<Attr, Built>;
});

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("missing value");
  return value;
}

const storePathsOf = (closureInfo: string) =>
  readFileSync(join(closureInfo, "store-paths"), "utf8").split("\n").filter(Boolean);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv in bwrap with nothing but the given store paths (read-only), /proc, /dev and a
 * tmpfs /tmp: no /usr, no /lib, no /etc. Asynchronous, so a server in this process can answer.
 */
function runWithClosure(
  storePaths: readonly string[],
  argv: readonly string[],
  options: { path: string; env?: Record<string, string>; extraArgs?: string[]; network?: boolean },
): Promise<Run> {
  const env = { HOME: "/home/user", PATH: options.path, ...options.env };
  const args = [
    "--unshare-all",
    ...(options.network ? ["--share-net"] : []),
    "--die-with-parent",
    "--clearenv",
    ...Object.entries(env).flatMap(([name, value]) => ["--setenv", name, value]),
    ...storePaths.flatMap((path) => ["--ro-bind", path, path]),
    ...["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/home/user"],
    ...(options.extraArgs ?? []),
    "--chdir",
    "/tmp",
    "--",
    ...argv,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("bwrap", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("packages run with their closure alone", () => {
  it.each(ATTRS)("%s", async (attr) => {
    const { out, version, closureInfo } = built[attr];
    const { argv, expected } = RUNS[attr];
    const result = await runWithClosure(
      storePathsOf(closureInfo),
      [join(out, "bin", argv[0]), ...argv.slice(1)],
      { path: join(out, "bin") },
    );
    expect(result.stderr).not.toMatch(/No such file|cannot open shared object/);
    expect(result.stdout).toContain(expected(version));
    expect(result.code).toBe(0);
  });

  it("coreutils' ls sees exactly the closure in the jail's store", async () => {
    const { out, closureInfo } = built.coreutils;
    const paths = storePathsOf(closureInfo);
    const result = await runWithClosure(paths, [join(out, "bin", "ls"), "/nix/store"], {
      path: join(out, "bin"),
    });
    expect(result.stdout.trim().split("\n")).toEqual(paths.map((p) => basename(p)));
  });

  it("coreutils holds every program of Debian's coreutils", () => {
    const debian = execFileSync("dpkg-query", ["-L", "coreutils"], { encoding: "utf8" })
      .split("\n")
      .filter((path) => /\/bin\/[^/]+$/.test(path))
      .map((path) => basename(path));
    expect(readdirSync(join(built.coreutils.out, "bin")).sort()).toEqual(
      [...new Set(debian)].sort(),
    );
  });

  it("bash also answers as sh", async () => {
    const { out, closureInfo } = built.bash;
    const result = await runWithClosure(
      storePathsOf(closureInfo),
      [join(out, "bin", "sh"), "-c", "echo $0"],
      {
        path: join(out, "bin"),
      },
    );
    expect(result.stdout).toBe(`${join(out, "bin", "sh")}\n`);
  });

  it("Claude Code's Bun binary runs as itself, so its embedded ripgrep (argv0 rg) works", async () => {
    // Claude Code spawns process.execPath with argv0 "rg" for its Grep tool; through ld.so,
    // execPath would be the loader. The wrapper is bash, so bash is in the closure.
    const { out, closureInfo } = built["claude-code"];
    const result = await runWithClosure(
      storePathsOf(closureInfo),
      ["bash", "-c", `exec -a rg ${join(out, "bin", ".claude-wrapped")} --version`],
      {
        path: storePathsOf(closureInfo)
          .map((p) => join(p, "bin"))
          .join(":"),
      },
    );
    expect(result.stdout).toMatch(/^ripgrep \d+\.\d+\.\d+/);
  });

  it("codex ships its ripgrep beside the binary, and it runs", async () => {
    const { out, closureInfo } = built.codex;
    const result = await runWithClosure(
      storePathsOf(closureInfo),
      [join(out, "codex-path", "rg"), "--version"],
      {
        path: join(out, "bin"),
      },
    );
    expect(result.stdout).toMatch(/^ripgrep \d+/);
  });

  describe("git clone over https, from a server on loopback", () => {
    let dir: string;
    let server: Server;
    let port: number;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "hostpkgs-git-"));
      const git = (...args: string[]) =>
        execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.test", ...args], {
          cwd: dir,
          stdio: "ignore",
        });
      git("init", "-q", "-b", "main", "work");
      writeFileSync(join(dir, "work", "README"), "cloned through the jail\n");
      git("-C", "work", "add", "README");
      git("-C", "work", "commit", "-q", "-m", "first commit");
      git("clone", "-q", "--bare", "work", "repo.git");
      git("-C", "repo.git", "update-server-info");
      const { key, cert } = selfSignedCertificate("127.0.0.1");
      writeFileSync(join(dir, "ca.pem"), cert);
      // The dumb HTTP protocol: git fetches the bare repository's files.
      server = createServer({ key, cert }, (request, response) => {
        const path = normalize(decodeURIComponent((request.url ?? "/").split("?")[0] ?? "/"));
        try {
          response.end(readFileSync(join(dir, path)));
        } catch {
          response.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
    });

    afterAll(() => {
      server?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("clones with git-remote-https from the store", async () => {
      const { out, closureInfo } = built.git;
      mkdirSync(join(dir, "into"));
      const result = await runWithClosure(
        storePathsOf(closureInfo),
        ["git", "clone", `https://127.0.0.1:${port}/repo.git`, "/into/clone"],
        {
          path: join(out, "bin"),
          env: { GIT_SSL_CAINFO: "/ca.pem" },
          extraArgs: [
            "--ro-bind",
            join(dir, "ca.pem"),
            "/ca.pem",
            "--bind",
            join(dir, "into"),
            "/into",
          ],
          network: true,
        },
      );
      expect(result.stderr).toContain("Cloning into '/into/clone'");
      expect(result.code).toBe(0);
      expect(readFileSync(join(dir, "into", "clone", "README"), "utf8")).toBe(
        "cloned through the jail\n",
      );
    });
  });
});

function selfSignedCertificate(ip: string): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const key = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(
    publicKey.export({ type: "spki", format: "pem" }).toString(),
  );
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  const subject = [{ name: "commonName", value: ip }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true },
    { name: "subjectAltName", altNames: [{ type: 7, ip }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  return { key, cert: forge.pki.certificateToPem(cert) };
}

describe("closureInfo", () => {
  it.each(ATTRS)("store-paths of %s is nix-store -qR of it", (attr) => {
    const { out, closureInfo } = built[attr];
    expect(storePathsOf(closureInfo)).toEqual(closureOf([out]));
  });

  it("registration and total-nar-size describe the closure as nix-store does", () => {
    const { closureInfo } = built.git;
    const paths = storePathsOf(closureInfo);
    const query = (flag: string, path: string) =>
      execFileSync("nix-store", ["-q", flag, path], { encoding: "utf8" }).trim();
    const expected = paths.flatMap((path) => {
      const references = query("--references", path).split("\n").filter(Boolean).sort();
      return [
        path,
        query("--hash", path),
        query("--size", path),
        "",
        String(references.length),
        ...references,
      ];
    });
    const registration = readFileSync(join(closureInfo, "registration"), "utf8");
    expect(registration).toBe(`${expected.join("\n")}\n`);
    const total = paths.reduce((sum, path) => sum + Number(query("--size", path)), 0);
    expect(readFileSync(join(closureInfo, "total-nar-size"), "utf8")).toBe(`${total}\n`);
  });

  it("takes several roots, and none", () => {
    const [both, none] = nixBuild(
      `let pkgs = ${importHostpkgs()}; in [
         (pkgs.closureInfo { rootPaths = [ pkgs.bash pkgs.curl ]; })
         (pkgs.closureInfo { rootPaths = [ ]; })
       ]`,
    ).split("\n");
    expect(storePathsOf(must(both))).toEqual(closureOf([built.bash.out, built.curl.out]));
    expect(readFileSync(join(must(none), "store-paths"), "utf8")).toBe("");
    expect(readFileSync(join(must(none), "registration"), "utf8")).toBe("");
    expect(readFileSync(join(must(none), "total-nar-size"), "utf8")).toBe("0\n");
  });
});

describe("trivial builders", () => {
  it("runCommand: env reaches the build, passthru and meta reach only the result", () => {
    const expr = `let pkgs = ${importHostpkgs()}; in pkgs.runCommand "rc" {
        GREETING = "hello";
        passthru.extra = "passed";
        meta.description = "described";
      } ''
        { echo "$GREETING"; command -v ls; command -v bash; } > $out
      ''`;
    expect(
      nixEvalJson(`let d = ${expr}; in {
        inherit (d) extra meta name;
        drvAttrs = builtins.attrNames d.drvAttrs;
      }`),
    ).toEqual({
      extra: "passed",
      meta: { description: "described" },
      name: "rc",
      drvAttrs: expect.not.arrayContaining(["passthru", "meta"]) as unknown,
    });
    expect(nixEvalJson(`(${expr}).drvAttrs.GREETING`)).toBe("hello");
    const out = nixBuild(expr);
    expect(readFileSync(out, "utf8")).toBe(
      `hello\n${built.coreutils.out}/bin/ls\n${built.bash.out}/bin/bash\n`,
    );
  });

  it("runCommand puts nativeBuildInputs on PATH", () => {
    const out = nixBuild(
      `let pkgs = ${importHostpkgs()}; in pkgs.runCommand "with-node" { nativeBuildInputs = [ pkgs.nodejs ]; } ''
        node -e 'console.log(6 * 7)' > $out
      ''`,
    );
    expect(readFileSync(out, "utf8")).toBe("42\n");
  });

  it("runCommandLocal prefers a local build and no substitutes", () => {
    expect(
      nixEvalJson(`let pkgs = ${importHostpkgs()}; d = pkgs.runCommandLocal "l" { } "touch $out"; in
        { inherit (d.drvAttrs) preferLocalBuild allowSubstitutes; }`),
    ).toEqual({ preferLocalBuild: true, allowSubstitutes: false });
  });

  it("writeTextFile: destination, executable, mainProgram, checkPhase", () => {
    const expr = (checkPhase: string) => `let pkgs = ${importHostpkgs()}; in pkgs.writeTextFile {
        name = "greet";
        text = "#!/bin/sh\\necho it's me\\n";
        executable = true;
        destination = "/bin/greet";
        checkPhase = ${JSON.stringify(checkPhase)};
      }`;
    expect(nixEvalJson(`(${expr("")}).meta.mainProgram`)).toBe("greet");
    const out = nixBuild(expr('test -x "$target"'));
    expect(readFileSync(join(out, "bin", "greet"), "utf8")).toBe("#!/bin/sh\necho it's me\n");
    expect(statSync(join(out, "bin", "greet")).mode & 0o111).toBe(0o111);
    expect(() => nixBuild(expr("echo check failed >&2; false"))).toThrow(/check failed/);
  });

  it("writeText writes the text, byte for byte", () => {
    const out = nixBuild(
      `let pkgs = ${importHostpkgs()}; in pkgs.writeText "note" "no newline, 'quotes' $HOME"`,
    );
    expect(readFileSync(out, "utf8")).toBe("no newline, 'quotes' $HOME");
  });

  it("symlinkJoin links every file of its paths, then runs postBuild", () => {
    const out = nixBuild(
      `let pkgs = ${importHostpkgs()}; in pkgs.symlinkJoin {
        name = "joined";
        paths = [ pkgs.bash pkgs.coreutils ];
        postBuild = "echo done > $out/post";
      }`,
    );
    expect(readlinkSync(join(out, "bin", "bash"))).toBe(join(built.bash.out, "bin", "bash"));
    expect(readlinkSync(join(out, "bin", "sh"))).toBe("bash");
    expect(readlinkSync(join(out, "bin", "ls"))).toBe(join(built.coreutils.out, "bin", "ls"));
    expect(readlinkSync(join(out, "lib", "libtinfo.so.6"))).toBe(
      join(built.bash.out, "lib", "libtinfo.so.6"),
    );
    expect(readFileSync(join(out, "post"), "utf8")).toBe("done\n");
  });
});

describe("nixpkgs' import interface", () => {
  const claude = (args: string) => `${importHostpkgs(args)}.claude-code`;

  it("an unfree package's meta is readable without allowing it", () => {
    expect(nixEvalJson(`${claude("")}.meta.license.free`)).toBe(false);
    expect(nixEvalJson(`${claude("")}.meta.mainProgram`)).toBe("claude");
  });

  it("instantiating an unfree package not allowed throws nixpkgs' message", () => {
    const error = nixEvalError(`${claude("")}.outPath`);
    expect(error).toMatch(
      /Package ‘claude-code-[\d.]+’ in .* has an unfree license \(‘unfree’\), refusing to evaluate/,
    );
    expect(
      nixEvalError(`${claude(`config.allowUnfreePredicate = pkg: pkg.pname == "codex";`)}.drvPath`),
    ).toMatch(/unfree license/);
  });

  it("allowUnfreePredicate or allowUnfree lets it through", () => {
    expect(
      nixEvalJson(
        `${claude(`config.allowUnfreePredicate = pkg: pkg.pname == "claude-code";`)}.outPath`,
      ),
    ).toBe(built["claude-code"].out);
    expect(nixEvalJson(`${claude("config.allowUnfree = true;")}.outPath`)).toBe(
      built["claude-code"].out,
    );
  });

  it("free packages need no permission", () => {
    expect(nixEvalJson(`${importHostpkgs("")}.codex.outPath`)).toBe(built.codex.out);
  });

  it("derivation names carry the pinned versions", () => {
    const pins = JSON.parse(readFileSync(join(hostpkgs, "agents.json"), "utf8")) as Record<
      string,
      { version: string }
    >;
    for (const attr of ["codex", "claude-code", "gemini-cli"] as const) {
      expect(basename(built[attr].out)).toMatch(
        new RegExp(`-${attr}-${must(pins[attr]).version}$`),
      );
    }
  });

  it("overlays apply in order, as final: prev: fixed points", () => {
    const result = nixEvalJson(`let pkgs = import ${hostpkgs} { overlays = [
        (final: prev: { greeting = prev.writeText "greeting" final.word; word = "hi"; })
        (final: prev: { word = "hello"; bash = prev.bash // { tagged = true; }; })
      ]; }; in {
        text = pkgs.greeting.drvAttrs.text;
        inherit (pkgs.bash) tagged;
        builtWithFinalBash = pkgs.greeting.drvAttrs.builder == "\${pkgs.bash}/bin/bash";
      }`);
    expect(result).toEqual({ text: "hello", tagged: true, builtWithFinalBash: true });
  });

  it("another system imports fine and throws only when a package is instantiated", () => {
    const other = `(import ${hostpkgs} { system = "aarch64-darwin"; })`;
    expect(nixEvalJson(`${other}.bash.name`)).toBe(`bash-${built.bash.version}`);
    expect(nixEvalError(`${other}.bash.drvPath`)).toContain("hostpkgs only builds x86_64-linux");
  });

  it("the flake's legacyPackages are the same derivations", () => {
    const outPath = execFileSync(
      "nix",
      ["eval", "--raw", `path:${hostpkgs}#legacyPackages.x86_64-linux.socat.outPath`],
      { encoding: "utf8", env: nixEnv },
    );
    expect(outPath).toBe(built.socat.out);
  });

  it("a pin missing from the npm cache fails the build with what to do", () => {
    const copy = mkdtempSync(join(tmpdir(), "hostpkgs-copy-"));
    try {
      cpSync(hostpkgs, copy, { recursive: true });
      const pins = JSON.parse(readFileSync(join(copy, "agents.json"), "utf8")) as Record<
        string,
        { version: string }
      >;
      must(pins.codex).version = "0.0.0-not-installed";
      writeFileSync(join(copy, "agents.json"), JSON.stringify(pins));
      const result = spawnSync("nix-build", ["--no-out-link", copy, "-A", "codex"], {
        encoding: "utf8",
        env: nixEnv,
      });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(
        "@openai/codex@0.0.0-not-installed is not in /var/cache/jailed/npm; run test/hostpkgs/install-agents.sh first",
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
