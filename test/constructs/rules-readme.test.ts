import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RULES, TollgateChecks } from "../../constructs/index.js";
import { smallPlatform } from "./fixtures.js";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The rows of the README's rule table: `| \`TG-…\` | severity | title |`. */
function readmeRules(): string[][] {
  const table = README.split("<!-- rules:start -->")[1]?.split("<!-- rules:end -->")[0] ?? "";
  return [...table.matchAll(/^\| `(TG-[A-Z]+-\d{3})` \| (\w+) \| (.+?) \|$/gm)].map((m) => [m[1]!, m[2]!, m[3]!]);
}

describe("the rule registry", () => {
  it("is what the README's rule table lists, row for row", () => {
    expect(readmeRules()).toEqual(Object.entries(RULES).map(([id, rule]) => [id, rule.severity, rule.title]));
  });

  it("refuses to suppress a rule that cannot be suppressed, and an unknown rule", () => {
    const { bundle } = smallPlatform();
    expect(() => TollgateChecks.suppress(bundle, "TG-BUNDLE-001", "the runtime validates it again anyway")).toThrow(
      /TG-BUNDLE-001 cannot be suppressed/,
    );
    expect(() => TollgateChecks.suppress(bundle, "TG-NOPE-001" as never, "a reason long enough")).toThrow(
      /unknown rule "TG-NOPE-001"/,
    );
  });
});
