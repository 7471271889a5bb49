import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { COMMENT_MARKER } from "../../policies/review/index.js";
import { EXIT_WIDENING } from "../../runtime/cli/diff.js";

const text = readFileSync(new URL("../../examples/github-actions/tollgate-review.yml", import.meta.url), "utf8");

describe("the example review workflow", () => {
  const workflow = parse(text) as {
    on: { pull_request: { types: string[] } };
    jobs: { review: { steps: { name?: string; run?: string; with?: { script?: string } }[] } };
  };
  const steps = workflow.jobs.review.steps;

  it("finds its own comment by the marker tollgate diff writes", () => {
    const script = steps.find((s) => s.with?.script)?.with?.script ?? "";
    expect(script).toContain(`const marker = "${COMMENT_MARKER}"`);
    expect(script).toContain("updateComment");
  });

  it("treats the widening exit code as 'approval needed' and re-runs when the approval label changes", () => {
    const diff = steps.find((s) => s.run?.includes("--fail-on widening"))?.run ?? "";
    expect(diff).toContain(`"$widening" -eq ${EXIT_WIDENING}`);
    expect(workflow.on.pull_request.types).toEqual(expect.arrayContaining(["labeled", "unlabeled", "synchronize"]));
  });
});
