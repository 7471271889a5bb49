/**
 * The credential guard runs secretlint for the long tail of formats. secretlint's profiler, on by default,
 * leaves performance marks behind on every lint; in a gateway that runs for weeks that is memory growing
 * with traffic. The guard turns it off: scanning leaves no marks behind.
 */
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { findCredentials, findCredentialsSync } from "../../policies/guards/index.js";

describe("credential guard", () => {
  it("leaves no performance marks behind, however many texts secretlint scans", async () => {
    const texts = Array.from(
      { length: 25 },
      (_, i) => `deploy note ${i}: token dapiZq8${"x7Kp2Lm9".repeat(5)}${i} rotated, see runbook`,
    );
    // These take the slow path: a long token with a prefix a secretlint rule looks for (Databricks' `dapi`),
    // which the quick pass cannot decide, so secretlint runs.
    expect(texts.every((text) => findCredentialsSync(text) === undefined)).toBe(true);
    const before = performance.getEntriesByType("mark").length;
    for (const text of texts) await findCredentials(text);
    expect(performance.getEntriesByType("mark").length - before).toBe(0);
  });
});
