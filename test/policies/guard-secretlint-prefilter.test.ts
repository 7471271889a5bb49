/**
 * The credential guard runs secretlint only when `mayHoldSecretlintFinding` says one of the recommended
 * preset's rules could report something. These tests hold it to the real secretlint (same config as the
 * guard): every rule's samples get through, and on thousands of generated texts "cannot hold" always means
 * secretlint reports nothing, so the guard's findings are exactly what they were without the prefilter.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { creator as recommendedPreset } from "@secretlint/secretlint-rule-preset-recommend";
import { describe, expect, it } from "vitest";
import {
  type Finding,
  createStreamingCredentialScanner,
  findCredentials,
  findKnownCredentials,
  lintCredentials,
} from "../../policies/guards/index.js";
import {
  REVIEWED_PRESET_VERSION,
  SECRETLINT_RULE_ANCHORS,
  mayHoldSecretlintFinding,
} from "../../policies/guards/secretlint-prefilter.js";
import { hasUnbrokenRun, mayHoldKnownCredential } from "../../policies/secrets/known-formats.js";
import { SECRETLINT_SAMPLES, random } from "./secretlint-samples.js";

const PREFIX = "@secretlint/secretlint-rule-";

/** The guard as it was before the prefilter: secretlint on every text with an unbroken 16-character run. */
async function findCredentialsBefore(text: string): Promise<Finding[]> {
  if (!mayHoldKnownCredential(text)) return [];
  const findings = findKnownCredentials(text);
  if (!hasUnbrokenRun(text, 16)) return findings;
  for (const found of await lintCredentials(text))
    if (!findings.some((f) => f.start < found.end && f.end > found.start)) findings.push(found);
  return findings;
}

const next = random(22);
const SAMPLES = Object.entries(SECRETLINT_SAMPLES).flatMap(([id, make]) => make(next).map((s) => [id, s] as const));

/** A sample where a secret shows up in answers and tool results. */
const CONTEXTS: readonly ((s: string) => string)[] = [
  (s) => s,
  (s) => `${s} is the value you asked for.`,
  (s) => `Here it is:\n${s}\nKeep it safe.`,
  (s) => `The deploy step failed; the log ends with ${s}`,
  // In a JSON string (the AWS assignments' own quotes, escaped, hide them from secretlint: left as they are).
  (s) => (s.includes('"') ? s : JSON.stringify({ records: [{ id: "T-10482", note: "rotated", value: s }] })),
  (s) => `Use \`${s}\` (from the vault).`,
];

describe("secretlint prefilter", () => {
  it("knows every rule of the installed preset, and has samples of every rule that can report", () => {
    const presetIds = recommendedPreset.rules.map((rule) => rule.meta.id.replace(PREFIX, "")).sort();
    // A rule added to (or removed from) the preset fails here: read its patterns and give it anchors.
    expect(Object.keys(SECRETLINT_RULE_ANCHORS).sort()).toEqual(presetIds);
    const reporting = Object.entries(SECRETLINT_RULE_ANCHORS).filter(([, anchors]) => anchors.length > 0);
    expect(Object.keys(SECRETLINT_SAMPLES).sort()).toEqual(reporting.map(([id]) => id).sort());
  });

  it("was checked against the installed preset's version", () => {
    const manifest = createRequire(import.meta.url).resolve(
      "@secretlint/secretlint-rule-preset-recommend/package.json",
    );
    // A new version may change a rule's patterns under the same id: re-read them, then update the version.
    expect((JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version).toBe(REVIEWED_PRESET_VERSION);
  });

  it.each(SAMPLES)(
    "%s: secretlint reports the sample in any context, and the prefilter lets it through",
    async (id, sample) => {
      for (const context of CONTEXTS) {
        const text = context(sample);
        const label = `${id}: ${JSON.stringify(text)}`;
        expect(
          (await lintCredentials(text)).map((f) => f.kind),
          label,
        ).toContain(id);
        expect(mayHoldSecretlintFinding(text), label).toBe(true);
        expect(await findCredentials(text), label).toEqual(await findCredentialsBefore(text));
        if (hasUnbrokenRun(text, 16)) expect((await findCredentials(text)).length, label).toBeGreaterThan(0);
      }
    },
  );

  it("the rules without anchors report nothing the guard could see", async () => {
    // gcp: only files named .json or .p12; the guard lints "/llm-output.txt".
    const serviceAccount = JSON.stringify({
      type: "service_account",
      private_key_id: "a".repeat(40),
      private_key: `-----BEGIN PRIVATE KEY-----\nMII${"A".repeat(120)}\n-----END PRIVATE KEY-----\n`,
    });
    expect((await lintCredentials(serviceAccount)).map((f) => f.kind)).not.toContain("gcp");
    // filter-comments only hides other rules' findings.
    const [, token] = SAMPLES.find(([id]) => id === "github")!;
    expect(await lintCredentials(`// secretlint-disable\n${token}`)).toEqual([]);
  });

  it.each([2, 3, 7])("the streaming guard blocks every sample split across %i chunks", async (chunks) => {
    for (const [id, sample] of SAMPLES) {
      const text = `Sure, here it is: ${sample} — anything else?`;
      if (!hasUnbrokenRun(text, 16) || /\s/.test(sample)) continue;
      const scanner = createStreamingCredentialScanner({ mode: "block", holdBackChars: 256 });
      const size = Math.ceil(text.length / chunks);
      let blocked = false;
      for (let i = 0; i < chunks && !blocked; i++)
        blocked = (await scanner.push(text.slice(i * size, (i + 1) * size))).action === "block";
      if (!blocked) blocked = (await scanner.finish()).action === "block";
      expect(blocked, id).toBe(true);
    }
  });

  it("on thousands of agent-like texts, 'cannot hold' always means secretlint reports nothing", async () => {
    const rand = random(2026);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
    const int = (min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
    const flipCase = (s: string) =>
      [...s].map((c) => (rand() < 0.5 ? c : c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join("");
    const samples = SAMPLES.map(([, s]) => s);
    const anchors = Object.values(SECRETLINT_RULE_ANCHORS)
      .flat()
      .map((a) => a.source.replace(/\\(.)/g, "$1").replace(/[()?:[\]|+*{}^]/g, ""));
    const fragments: (() => string)[] = [
      () => pick(["Your refund was approved.", "Check the ticket status", "the account balance", "Secret Santa"]),
      () => `https://support.example.com/tickets/T-${int(1000, 99999)}?view=full`,
      () => `${pick(["jane.doe", "ops-team", "ben"])}@${pick(["example.com", "acme-corp.example"])}`,
      () => pick(["[REDACTED:email]", "[REDACTED:phone]", "[REDACTED:payment-card]"]),
      () => pick(["customer_id", "order_ref_", "C-10482", "call_0000af", "SG.", "sk_", "dapi", "AKIA", "ASIA"]),
      () => JSON.stringify({ id: `T-${int(10000, 99999)}`, status: pick(["open", "closed"]), amount: "12.50" }),
      () => pick(["\n", " ", "\t", '"', "'", "`", ": ", " = ", "=>", "_", "-", ".", "/", "://", "@"]),
      () => pick(samples),
      () => {
        const s = pick(samples);
        const start = int(0, s.length - 1);
        return s.slice(start, int(start + 1, s.length));
      },
      () => flipCase(pick(samples)),
      () => {
        const s = pick(samples);
        const at = int(0, s.length - 1);
        return `${s.slice(0, at)}${pick(["", " ", "x", "-", "_", "."])}${s.slice(at + 1)}`;
      },
      () => pick(anchors),
      () => pick(["postgres://", "mongodb+srv://", "https://", "ftp://", "x-oauth-basic", "_authToken="]),
      () => "ab12CD34ef56GH78ij90KL".slice(0, int(1, 22)),
    ];
    let skipped = 0;
    let reported = 0;
    for (let n = 0; n < 3000; n++) {
      let text = "";
      for (let k = int(1, 8); k > 0; k--) text += pick(fragments)() + (rand() < 0.5 ? " " : "");
      const lint = await lintCredentials(text);
      if (lint.length > 0) reported++;
      if (!mayHoldSecretlintFinding(text)) {
        skipped++;
        expect(lint, JSON.stringify(text)).toEqual([]);
      }
      expect(await findCredentials(text), JSON.stringify(text)).toEqual(await findCredentialsBefore(text));
    }
    // Both sides of the implication are exercised.
    expect(skipped).toBeGreaterThan(300);
    expect(reported).toBeGreaterThan(300);
  }, 120_000);
});
