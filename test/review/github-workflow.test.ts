import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { COMMENT_MARKER } from "../../policies/review/index.js";
import { GATES } from "../../runtime/cli/diff.js";

const text = readFileSync(new URL("../../examples/github-actions/tollgate-review.yml", import.meta.url), "utf8");

describe("the example review workflow", () => {
  const workflow = parse(text) as {
    on: { pull_request: { types: string[] } };
    env: { FAIL_ON: string };
    jobs: { review: { steps: { name?: string; if?: string; run?: string; with?: { script?: string } }[] } };
  };
  const steps = workflow.jobs.review.steps;

  it("finds its own comment by the marker tollgate diff writes", () => {
    const script = steps.find((s) => s.with?.script)?.with?.script ?? "";
    expect(script).toContain(`const marker = "${COMMENT_MARKER}"`);
    expect(script).toContain("updateComment");
  });

  it("gates on the team's list, mapping each exit code of tollgate diff to its gate", () => {
    expect(workflow.env.FAIL_ON).toBe("widening,replace,tamper");
    const diff = steps.find((s) => s.run?.includes('--fail-on "$FAIL_ON"'))?.run ?? "";
    for (const [gate, code] of Object.entries(GATES)) expect(diff).toContain(`${code}) echo "gate=${gate}"`);
  });

  it("lets a label approve widening and replace but never tamper, and re-runs when the label changes", () => {
    const approve = steps.find((s) => s.name?.startsWith("Require an approval label"));
    expect(approve?.if).toBe("steps.diff.outputs.gate == 'widening' || steps.diff.outputs.gate == 'replace'");
    const tamper = steps.find((s) => s.if === "steps.diff.outputs.gate == 'tamper'");
    expect(tamper?.run).toContain("exit 1");
    expect(tamper?.run).not.toContain("LABEL");
    expect(workflow.on.pull_request.types).toEqual(expect.arrayContaining(["labeled", "unlabeled", "synchronize"]));
  });
});
