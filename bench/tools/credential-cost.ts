/**
 * Cost of the credential-leak guard's scan (`findCredentials`) on agent-like answers and tool results,
 * with secretlint run as before the secretlint prefilter (whenever the text has an unbroken 16-character
 * run) and as now (only when the text also holds something one of the preset's rules needs).
 *
 *   node --import tsx bench/tools/credential-cost.ts [--texts 2000] [--seed 1] [--rounds 5]
 *
 * Answers are what the benchmarks' stand-in returns on the agent workload (./workload/agent.ts): the last
 * user message echoed, with the PII the request guard masked written as `[REDACTED:kind]`; tool results are
 * the workload's JSON results of several KB. Both ways see the same texts, alternating text by text, and
 * must return the same findings (checked on every text). Medians of per-text times over `rounds` passes.
 *
 * In-process and single-threaded: the scan's CPU, not the gateway's. Not part of `npm run bench`.
 */
import {
  type Finding,
  compilePiiGuard,
  findCredentials,
  findKnownCredentials,
  lintCredentials,
} from "../../policies/guards/index.js";
import { PII_DETECTOR_ORDER } from "../../policies/guards/pii.js";
import { mayHoldSecretlintFinding } from "../../policies/guards/secretlint-prefilter.js";
import { hasUnbrokenRun, mayHoldKnownCredential } from "../../policies/secrets/known-formats.js";
import { pinThisProcess } from "../support/gateway-process.js";
import { createAgentWorkload, toolResult } from "../workload/agent.js";

const args = new Map<string, string>();
for (let i = 2; i + 1 < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1]!);
const TEXTS = Number(args.get("texts") ?? 2000);
const SEED = Number(args.get("seed") ?? 1);
const ROUNDS = Number(args.get("rounds") ?? 5);

/** `findCredentials` as it was before the prefilter: secretlint on every text with a 16-character run. */
async function findCredentialsBefore(text: string): Promise<Finding[]> {
  if (!mayHoldKnownCredential(text)) return [];
  const findings = findKnownCredentials(text);
  if (!hasUnbrokenRun(text, 16)) return findings;
  for (const found of await lintCredentials(text))
    if (!findings.some((f) => f.start < found.end && f.end > found.start)) findings.push(found);
  return findings;
}

function answers(): string[] {
  const pii = compilePiiGuard({ mode: "mask", detectors: [...PII_DETECTOR_ORDER], extraPatterns: [] });
  const texts: string[] = [];
  for (const request of createAgentWorkload({ seed: SEED, users: 32 }).take(TEXTS)) {
    const last = [...request.messages].reverse().find((m) => m.role === "user");
    const verdict = pii.apply(last?.content ?? "");
    if (verdict.action === "allow") texts.push(verdict.value);
  }
  return texts;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(name: string, texts: readonly string[]) {
  const before: number[] = [];
  const after: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, text] of texts.entries()) {
      const order = (i + round) % 2 === 0 ? ([before, after] as const) : ([after, before] as const);
      const results: string[] = [];
      for (const times of order) {
        const start = process.hrtime.bigint();
        const findings = await (times === before ? findCredentialsBefore(text) : findCredentials(text));
        times.push(Number(process.hrtime.bigint() - start) / 1000);
        results.push(JSON.stringify(findings));
      }
      if (results[0] !== results[1]) throw new Error(`different findings on ${JSON.stringify(text.slice(0, 200))}`);
    }
  }
  const oldRan = texts.map((t) => mayHoldKnownCredential(t) && hasUnbrokenRun(t, 16));
  const newRuns = texts.filter((t, i) => oldRan[i] && mayHoldSecretlintFinding(t)).length;
  // Only the texts secretlint ran on before: the ones the prefilter can change.
  const affected = (times: number[]) => times.filter((_, k) => oldRan[k % texts.length]);
  const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
  const row = (label: string, b: number, a: number) =>
    `${label} ${b.toFixed(1)} -> ${a.toFixed(1)} µs (${(a / b).toFixed(3)}x)`;
  console.log(
    `${name.padEnd(16)} ${texts.length} texts, median ${median(texts.map((t) => t.length))} chars, secretlint ran on ` +
      `${oldRan.filter(Boolean).length} -> ${newRuns}\n  ${row("median, all texts:", median(before), median(after))}; ` +
      `${row("mean:", mean(before), mean(after))}\n  ${row("median, texts secretlint ran on before:", median(affected(before)), median(affected(after)))}`,
  );
}

/** An answer as real agents write them: a link to the record and an identifier beside the echoed text. */
function withLinks(text: string, i: number): string {
  const id = (i * 2654435761) >>> 0;
  return `See https://support.example.com/tickets/T-${id % 100000}?view=full and order_ref_${id.toString(36)}_${i}. ${text}`;
}

pinThisProcess();
const tools = Array.from({ length: Math.max(100, TEXTS / 5) }, (_, i) => toolResult(SEED * 100_003 + i).text);
const echoed = answers();
await measure("answers", echoed);
await measure("answers + links", echoed.map(withLinks));
await measure("tool results", tools);
