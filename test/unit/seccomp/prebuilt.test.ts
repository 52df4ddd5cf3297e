import { describe, expect, it } from "vitest";
import { prebuiltSeccompModule } from "../../../scripts/bundle.js";
import { ARCHES, buildSeccompFilter } from "../../../src/runtime/linux/seccomp/index.js";
import { seccompFilter } from "../../../src/runtime/linux/seccomp/prebuilt.js";
import { HARDENING_PROFILES } from "../../../src/spec/hardening.js";

describe("the prebuilt seccomp filters", () => {
  it("are, in the bundle's module, exactly the filters the compiler builds", async () => {
    const source = prebuiltSeccompModule();
    const bundled = (await import(
      `data:text/javascript;base64,${Buffer.from(source).toString("base64")}`
    )) as { seccompFilter: typeof seccompFilter };
    for (const profile of HARDENING_PROFILES) {
      for (const arch of ARCHES) {
        const built = buildSeccompFilter(profile, arch);
        expect(Buffer.from(bundled.seccompFilter(profile, arch)).equals(built)).toBe(true);
        expect(Buffer.from(seccompFilter(profile, arch)).equals(built)).toBe(true);
      }
    }
    // Control: the profiles' filters differ, so a mix-up would show.
    expect(
      Buffer.from(bundled.seccompFilter("strict", "x86_64")).equals(
        buildSeccompFilter("default", "x86_64"),
      ),
    ).toBe(false);
  });
});
