// What the benchmarks load, bundled by esbuild like the runtime bundles the proxy.
export { proxyAuthorization, startProxy } from "../../src/proxy/index.js";
export {
  compilePolicy,
  decide,
  decideConnect,
  normalizePath,
} from "../../src/proxy/policy/index.js";
export { createCertificateAuthority } from "../../src/proxy/tls/authority.js";
export { bridgeArgs } from "../../src/runtime/linux/bridge.js";
