import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpsUpstream, type Upstream } from "../proxy/helpers.js";
import { fakeApiEnv, latestAuditEntries } from "../support/e2e.js";
import { makeSandbox, RUNNERS, runAsAsync, type Sandbox } from "../support/jail-run.js";
import { nixBuild, withJailedLib } from "../support/nix.js";

/**
 * Read-only GitHub: fetches (ref discovery and upload-pack) of one repository are allowed, pushes
 * are denied. Policy paths do not see the query, so `info/refs?service=git-receive-pack` (a push's
 * ref discovery, which shows no more than a clone) passes; the push itself is the POST to
 * git-receive-pack, and that is what the deny rule and the default deny stop.
 */
const POLICY = `[[rules]]
action = "deny"
host = "github.test"
path = "/*/*/git-receive-pack"

[[rules]]
action = "allow"
host = "github.test"
path = "/me/repo.git/info/refs"
methods = ["GET"]

[[rules]]
action = "allow"
host = "github.test"
path = "/me/repo.git/git-upload-pack"
methods = ["POST"]
`;

const GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";
const work = mkdtempSync(join(tmpdir(), "jailed-git-"));
const projectRoot = join(work, "repos");
const bareRepo = join(projectRoot, "me", "repo.git");
const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: work };
const git = (...args: string[]) =>
  execFileSync("git", args, { encoding: "utf8", env: gitEnv }).trim();
/** For git talking to the server in this process, which a blocking call would starve. */
const gitAsync = (caFile: string, ...args: string[]) =>
  promisify(execFile)("git", args, { env: { ...gitEnv, GIT_SSL_CAINFO: caFile } });

/** Git's smart HTTP, served by git's own CGI over the bare repositories in projectRoot. */
function gitHttpBackend(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? "/", "https://github.test");
  const cgi = spawn(GIT_HTTP_BACKEND, [], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: "1",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
      GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
      REMOTE_ADDR: "127.0.0.1",
      REMOTE_USER: "me",
      // Unset for a chunked body: git then reads the body to its end.
      ...(req.headers["content-length"] === undefined
        ? {}
        : { CONTENT_LENGTH: req.headers["content-length"] }),
    },
  });
  req.pipe(cgi.stdin);
  let head = Buffer.alloc(0);
  let headerDone = false;
  cgi.stdout.on("data", (chunk: Buffer) => {
    if (headerDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end === -1) return;
    headerDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.statusCode = status;
    res.write(head.subarray(end + 4));
  });
  cgi.on("close", () => res.end());
}

let shell: string;
let server: Upstream;
const requests: string[] = [];

beforeAll(async () => {
  const seed = join(work, "seed");
  git("init", "-q", "--bare", bareRepo);
  git("-C", bareRepo, "config", "http.receivepack", "true");
  git("init", "-q", "-b", "main", seed);
  writeFileSync(join(seed, "README"), "hello from the fake GitHub\n");
  git("-C", seed, "add", "README");
  git("-C", seed, "-c", "user.name=me", "-c", "user.email=me@test", "commit", "-qm", "first");
  git("-C", seed, "push", "-q", bareRepo, "main");
  git("-C", bareRepo, "symbolic-ref", "HEAD", "refs/heads/main");
  server = await startHttpsUpstream((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    gitHttpBackend(req, res);
  });
  const policy = join(work, "github-read-only.toml");
  writeFileSync(policy, POLICY);
  shell = join(
    nixBuild(
      withJailedLib(`jailedLib.makeJailedAgent {
        name = "jailed-git-shell";
        pkg = pkgs.bash;
        command = "bash";
        extraPkgs = [ pkgs.git pkgs.coreutils ];
        network.policyFile = ${policy};
      }`),
    ),
    "bin",
    "jailed-git-shell",
  );
});

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

const mainRef = () => git("-C", bareRepo, "rev-parse", "refs/heads/main");

it("the fake server takes a push when nothing is in the way (control)", async () => {
  const clone = join(work, "control");
  const caFile = join(work, "server-ca.pem");
  writeFileSync(caFile, server.caPem);
  const remote = `https://github.test:${server.port}/me/repo.git`;
  const resolve = `http.curloptResolve=github.test:${server.port}:127.0.0.1`;
  await gitAsync(caFile, "-c", resolve, "clone", "-q", remote, clone);
  const before = mainRef();
  git(
    "-C",
    clone,
    "-c",
    "user.name=me",
    "-c",
    "user.email=me@test",
    "commit",
    "-q",
    "--allow-empty",
    "-m",
    "control",
  );
  await gitAsync(caFile, "-c", resolve, "-C", clone, "push", "-q", "origin", "main");
  expect(mainRef()).not.toBe(before);
  expect(requests).toContain("POST /me/repo.git/git-receive-pack");
});

describe.each(RUNNERS)("git through a read-only GitHub policy, jailed as $label", (runner) => {
  let sandbox: Sandbox;
  let env: Record<string, string>;

  beforeAll(() => {
    sandbox = makeSandbox(runner);
    env = fakeApiEnv(sandbox, server, ["github.test"]);
  });
  afterAll(() => rmSync(sandbox.root, { recursive: true, force: true }));

  it("clones the allowed repository, and its push is denied with 403", async () => {
    const before = mainRef();
    requests.length = 0;
    const script = [
      "set -e",
      "cd /tmp",
      "git clone -q https://github.test/me/repo.git",
      "cat repo/README",
      "cd repo",
      "git -c user.name=agent -c user.email=agent@test commit -q --allow-empty -m 'from the jail'",
      "if git push -q origin main 2>push.err; then echo PUSHED; else echo PUSH-FAILED; cat push.err >&2; fi",
    ].join("\n");
    const result = await runAsAsync(runner, sandbox, [shell, "-c", script], env);
    expect(result.stdout, result.stderr).toBe("hello from the fake GitHub\nPUSH-FAILED\n");
    expect(result.stderr).toContain("403");
    expect(result.status).toBe(0);
    expect(mainRef()).toBe(before);
    expect(requests).toContain("POST /me/repo.git/git-upload-pack");
    expect(requests).not.toContain("POST /me/repo.git/git-receive-pack");

    const entries = latestAuditEntries(sandbox);
    expect(entries).toContainEqual(
      expect.objectContaining({
        method: "POST",
        url: "https://github.test/me/repo.git/git-receive-pack",
        decision: "deny",
        rule: 0,
        status: 403,
      }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({
        method: "POST",
        url: "https://github.test/me/repo.git/git-upload-pack",
        decision: "allow",
      }),
    );
  });
});

/**
 * GitHub's credential as every agent carries it: gh's GH_TOKEN on the host, its dummy in the jail,
 * and git's credential helper answering with the dummy, which the proxy finds inside git's Basic
 * credentials and swaps for the real token on the way to github.com only.
 */
describe.each(RUNNERS)("git with the agents' GitHub credential, jailed as $label", (runner) => {
  const REAL = `ghp_${"RealGitHubToken0".repeat(2)}abcd`;
  let sandbox: Sandbox;
  let env: Record<string, string>;
  let tokenShell: string;
  let github: Upstream;
  const authorizations: string[] = [];

  beforeAll(async () => {
    sandbox = makeSandbox(runner);
    // A private repository: git gets a 401 until it sends the right token.
    github = await startHttpsUpstream((req, res) => {
      const authorization = req.headers.authorization ?? "";
      authorizations.push(authorization);
      const pair = Buffer.from(authorization.replace(/^Basic /, ""), "base64").toString();
      if (pair !== `x-access-token:${REAL}`) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="GitHub"' }).end();
        return;
      }
      gitHttpBackend(req, res);
    });
    env = { ...fakeApiEnv(sandbox, github, ["github.com"]), GH_TOKEN: REAL };
    tokenShell = join(
      nixBuild(
        withJailedLib(`jailedLib.makeJailedAgent {
          name = "jailed-git-token-shell";
          pkg = pkgs.bash;
          command = "bash";
          extraPkgs = [ pkgs.git pkgs.coreutils ];
          network.allow = [ "github.com" ];
          credentials.github = jailedLib.agents.codex.credentials.github;
          env = jailedLib.agents.codex.env;
        }`),
      ),
      "bin",
      "jailed-git-token-shell",
    );
  });
  afterAll(async () => {
    await github?.close();
    rmSync(sandbox.root, { recursive: true, force: true });
  });

  it("clones a private repository while the jail holds only the dummy", async () => {
    authorizations.length = 0;
    const script =
      'cd /tmp && git clone -q https://github.com/me/repo.git && cat repo/README && echo "$GH_TOKEN"';
    const result = await runAsAsync(runner, sandbox, [tokenShell, "-c", script], env);
    const [readme, token] = result.stdout.split("\n");
    expect(readme, result.stderr).toBe("hello from the fake GitHub");
    expect(token).toMatch(/^ghp_[A-Za-z0-9]{36}$/);
    expect(token).not.toBe(REAL);
    expect(result.stderr).not.toContain(REAL);
    // The server saw the real token, which only the proxy put there.
    expect(authorizations).toContain(
      `Basic ${Buffer.from(`x-access-token:${REAL}`).toString("base64")}`,
    );
  });
});
