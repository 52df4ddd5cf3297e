// Cost of one policy decision with 10,000 exact-host rules, 1,000 `*.domain` rules, 20 regex
// rules and path rules. Usage: node bench/proxy/policy.mjs
import { BUNDLE, bundle, fmt, record } from "./lib.mjs";

await bundle();
const { compilePolicy, decide, decideConnect, normalizePath } = await import(BUNDLE);

const rules = [];
for (let i = 0; i < 10_000; i++) rules.push({ action: "allow", host: `host${i}.example.com` });
for (let i = 0; i < 1_000; i++) rules.push({ action: "allow", host: `*.zone${i}.example.net` });
for (let i = 0; i < 20; i++)
  rules.push({ action: "allow", host: `/api${i}-[a-z]+\\.regex\\.test/` });
rules.push({ action: "deny", host: "host9999.example.com", path: "/admin/**" });
rules.push({
  action: "allow",
  host: "paths.test",
  path: "/v1/*/items/**",
  methods: ["GET", "POST"],
});

let start = performance.now();
const policy = compilePolicy(rules);
console.log(`compile ${rules.length} rules: ${fmt(performance.now() - start, 1)} ms`);

const cases = {
  "exact host, last rule": { host: "host9999.example.com", port: 443, method: "GET", path: "/x" },
  "wildcard, deep subdomain": {
    host: "a.b.zone999.example.net",
    port: 443,
    method: "GET",
    path: "/",
  },
  regex: { host: "api19-abc.regex.test", port: 443, method: "GET", path: "/" },
  "path glob": { host: "paths.test", port: 443, method: "POST", path: "/v1/x/items/a/b" },
  "no match (default deny)": { host: "unknown.example.org", port: 443, method: "GET", path: "/" },
};
const iterations = 200_000;
let slowestUs = 0;
for (const [name, facts] of Object.entries(cases)) {
  for (let i = 0; i < 10_000; i++) decide(policy, facts);
  start = performance.now();
  for (let i = 0; i < iterations; i++) decide(policy, facts);
  const perCall = ((performance.now() - start) * 1000) / iterations;
  slowestUs = Math.max(slowestUs, perCall);
  console.log(`decide, ${name}: ${fmt(perCall, 2)} µs (allow=${decide(policy, facts).allow})`);
}
start = performance.now();
for (let i = 0; i < iterations; i++) decideConnect(policy, "host5000.example.com", 443);
console.log(
  `decideConnect, exact host: ${fmt(((performance.now() - start) * 1000) / iterations, 2)} µs`,
);
start = performance.now();
for (let i = 0; i < iterations; i++) normalizePath("/v1/a/./b/../items/%7Efoo?x");
console.log(`normalizePath: ${fmt(((performance.now() - start) * 1000) / iterations, 2)} µs`);
record("policy", { slowestDecisionUs: slowestUs });
