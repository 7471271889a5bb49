import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

// The probes are text for files that do not exist: lint them without type information (the rules under test need none).
const eslint = new ESLint({
  cwd: new URL("../..", import.meta.url).pathname,
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      "@typescript-eslint/no-floating-promises": "off",
      "@typescript-eslint/no-misused-promises": "off",
    },
  },
});
const errorsFor = async (code: string, filePath: string) =>
  (await eslint.lintText(code, { filePath }))[0]!.messages
    .filter((m) => m.ruleId === "no-restricted-imports")
    .map((m) => m.message);

describe("architecture lint rules", () => {
  it("refuses a provider package root import and allows the deep path", async () => {
    expect(await errorsFor('import { IamRole } from "@cdktf/provider-aws";\n', "constructs/probe.ts")).toHaveLength(1);
    expect(await errorsFor('import { App } from "@cdktf/provider-okta/lib";\n', "stacks/probe.ts")).toHaveLength(1);
    expect(
      await errorsFor('import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";\n', "constructs/probe.ts"),
    ).toEqual([]);
  });

  it("keeps policies/ pure and the two sides apart", async () => {
    expect(await errorsFor('import { x } from "../runtime/server";\n', "policies/probe.ts")).toHaveLength(1);
    expect(await errorsFor('import { App } from "cdktf";\n', "policies/probe.ts")).toHaveLength(1);
    expect(await errorsFor('import { x } from "../runtime/server";\n', "constructs/probe.ts")).toHaveLength(1);
    expect(await errorsFor('import { x } from "../constructs";\n', "runtime/probe.ts")).toHaveLength(1);
    expect(await errorsFor('import { x } from "../policies/bundle";\n', "runtime/probe.ts")).toEqual([]);
  });
});
