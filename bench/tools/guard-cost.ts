/**
 * CPU per request of the request-side guard chain (prompt injection, then PII) on agent-like traffic,
 * before and after the guards remembered every verdict and compiled their scans (issue 22, items 2–4).
 *
 *   node --import tsx bench/tools/guard-cost.ts [--requests 3000] [--seed 1] [--users 32]
 *
 * The requests are ./workload/agent.ts's: conversations of many users growing turn by turn from 4 to
 * 64 KB, with tool calls, tool results and PII in a fraction of the messages. Three guard chains see the
 * same request sequence, in turn on every request (the order rotates), each with its own memory, as
 * three long-running gateways would:
 *   - old: the chain as it was (vard for injection, every PII pattern over every text with a digit or
 *     an '@', only texts found clean remembered, per source), rebuilt here from the same patterns;
 *   - scans: today's scanners behind the old memory (what the compiled scans alone change);
 *   - new: today's request guard (`createRequestGuard`): every verdict remembered.
 * Each request's body is parsed before the clock starts (each chain rewrites its own copy). Medians of
 * per-request times, by body size, after the first tenth of the requests (the caches fill); the process's
 * CPU time per request over the same requests is printed beside them. A second table scans MCP tool
 * results (several KB each, every one new: no memory helps) with the old and the new scanners, then the
 * injection detector alone (vard vs the compiled patterns) and, for short texts, the cost of the cache key
 * (SHA-256) against a scan. A line between them scans only each request's new messages, as the gateway does once
 * its history memory has matched the rest: the request-side scanning no cache removes.
 *
 * In-process and single-threaded: the guard's CPU, not the gateway's. Not part of `npm run bench`.
 */
import { hash } from "node:crypto";
import vard, { type ThreatType } from "@andersmyrmel/vard";
import type { GuardPolicy } from "../../policies/bundle/index.js";
import { BUILT_IN_PII_DETECTORS, PII_DETECTOR_ORDER } from "../../policies/guards/pii.js";
import {
  type ContentSource,
  type Finding,
  JAILBREAK_FAMILY_PATTERNS,
  type TextVerdict,
  blockVerdict,
  compileGuardPolicy,
  redactFindings,
} from "../../policies/guards/index.js";
import { CleanTextCache } from "../../runtime/guards/clean-text-cache.js";
import type { Json } from "../../runtime/http/json.js";
import { createRequestGuard } from "../../runtime/llm/request-guard.js";
import { pinThisProcess } from "../support/gateway-process.js";
import { createAgentWorkload, createToolCallWorkload, seedOf, toolResult } from "../workload/agent.js";

const args = new Map<string, string>();
for (let i = 2; i + 1 < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1]!);
const REQUESTS = Number(args.get("requests") ?? 3000);
const SEED = Number(args.get("seed") ?? 1);
const USERS = Number(args.get("users") ?? 32);
const TOOL_RESULTS = 400;

/** The benchmarks' full chain (bench/support FULL_CHAIN_POLICY) with the schema's defaults written out. */
const POLICY: GuardPolicy = {
  id: "default",
  pii: { mode: "mask", detectors: [...PII_DETECTOR_ORDER], extraPatterns: [] },
  promptInjection: { mode: "block", sensitivity: "moderate" },
  credentialLeak: { mode: "block", holdBackChars: 256 },
  limits: { windowSeconds: 60, requestsPerWindow: 100_000_000, tokensPerWindow: 1_000_000_000_000 },
} as GuardPolicy;

// ---- the old chain, rebuilt ------------------------------------------------------------------------

/** vard, configured as the injection guard configured it (moderate). */
function oldInjectionFind(): (text: string) => Finding[] {
  const counted: ThreatType[] = ["instructionOverride", "roleManipulation", "delimiterInjection", "systemPromptLeak"];
  const detector = vard()
    .threshold(0.7)
    .maxLength(Number.MAX_SAFE_INTEGER)
    .patterns([...JAILBREAK_FAMILY_PATTERNS])
    .block("instructionOverride")
    .block("roleManipulation")
    .block("delimiterInjection")
    .block("systemPromptLeak")
    .allow("encoding");
  return (text) => {
    const result = detector.safeParse(text);
    if (result.safe) return [];
    return result.threats
      .filter((t) => counted.includes(t.type))
      .map((t) => ({ kind: t.type, start: t.position, end: t.position + t.match.length }));
  };
}

/** Every built-in PII pattern over the whole text when it holds a digit or an '@'. */
function oldPiiFind(text: string): Finding[] {
  if (!/[\d@]/.test(text)) return [];
  const findings: Finding[] = [];
  const taken: [number, number][] = [];
  for (const name of PII_DETECTOR_ORDER) {
    const detector = BUILT_IN_PII_DETECTORS[name];
    detector.pattern.lastIndex = 0;
    for (const match of text.matchAll(detector.pattern)) {
      const start = match.index;
      const end = start + match[0].length;
      if (match[0].length === 0 || (detector.accept && !detector.accept(match[0]))) continue;
      if (taken.some(([s, e]) => start < e && end > s)) continue;
      taken.push([start, end]);
      findings.push({ kind: detector.kind, start, end });
    }
  }
  return findings;
}

type Scan = (text: string, source: ContentSource) => TextVerdict;

/** Injection on user and tool text (block), then PII (mask): the policy's request-side order. */
function oldScan(): Scan {
  const injection = oldInjectionFind();
  return (text, source) => {
    if ((source === "user" || source === "tool") && injection(text).length > 0)
      return blockVerdict("prompt-injection", "the content looks like a prompt-injection attempt");
    const findings = oldPiiFind(text);
    if (findings.length === 0) return { action: "allow", value: text };
    const { text: value, counts } = redactFindings(text, findings);
    return { action: "allow", value, redactions: counts };
  };
}

interface ChatGuard {
  guardChat(body: Json): unknown;
}

/** The old request guard: clean texts remembered per source (exact text), everything else rescanned. */
function oldMemoryGuard(scan: Scan): ChatGuard {
  const caches = new Map<ContentSource, CleanTextCache>();
  const verdictFor = (text: string, source: ContentSource): TextVerdict => {
    if (text.length === 0) return { action: "allow", value: text };
    let clean = caches.get(source);
    if (!clean) caches.set(source, (clean = new CleanTextCache(12_500, 64 * 1024, 4 * 1024 * 1024)));
    if (clean.has(text)) return { action: "allow", value: text };
    const verdict = scan(text, source);
    if (verdict.action === "allow" && verdict.value === text && !verdict.redactions) clean.add(text);
    return verdict;
  };
  const guardText = (holder: Json, key: string, source: ContentSource): boolean => {
    const content = holder[key];
    if (typeof content !== "string") return false;
    const verdict = verdictFor(content, source);
    if (verdict.action === "block") return true;
    holder[key] = verdict.value;
    return false;
  };
  return {
    guardChat(body) {
      for (const message of body.messages as Json[]) {
        const source = chatSource(message.role);
        if (guardText(message, "content", source)) return "block";
        for (const call of (message.tool_calls ?? []) as Json[])
          if (guardText(call.function, "arguments", "assistant")) return "block";
      }
      return "allow";
    },
  };
}

function chatSource(role: unknown): ContentSource {
  if (role === "system" || role === "developer") return "system";
  if (role === "assistant") return "assistant";
  if (role === "tool" || role === "function") return "tool";
  return "user";
}

// ---- measuring -----------------------------------------------------------------------------------

const median = (values: readonly number[]) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const us = (ns: number) => (Number.isNaN(ns) ? "-" : (ns / 1000).toFixed(1));
const ratio = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? "-" : `${(a / b).toFixed(3)}x`);

pinThisProcess();
const compiled = compileGuardPolicy(POLICY);
const chains: { name: string; guard: ChatGuard; times: number[]; cpuMicros: number }[] = [
  { name: "old", guard: oldMemoryGuard(oldScan()), times: [], cpuMicros: 0 },
  { name: "scans", guard: oldMemoryGuard((t, s) => compiled.guardRequestText(t, s)), times: [], cpuMicros: 0 },
  { name: "new", guard: createRequestGuard(compiled), times: [], cpuMicros: 0 },
];

const workload = createAgentWorkload({ seed: SEED, users: USERS });
const warmup = Math.floor(REQUESTS / 10);
const sizes: number[] = [];
for (let i = 0; i < REQUESTS; i++) {
  const request = workload.next();
  if (i >= warmup) sizes.push(request.bytes);
  for (let k = 0; k < chains.length; k++) {
    const chain = chains[(i + k) % chains.length]!;
    const body = JSON.parse(request.body) as Json;
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    chain.guard.guardChat(body);
    const elapsed = Number(process.hrtime.bigint() - start);
    const used = process.cpuUsage(cpu);
    if (i >= warmup) {
      chain.times.push(elapsed);
      chain.cpuMicros += used.user + used.system;
    }
  }
}

const BUCKETS = [
  { label: "4-16 KB", min: 0, max: 16 * 1024 },
  { label: "16-32 KB", min: 16 * 1024, max: 32 * 1024 },
  { label: "32-64 KB", min: 32 * 1024, max: Infinity },
  { label: "all", min: 0, max: Infinity },
];
const measured = sizes.length;
console.log(
  `guard chain CPU per request, agent workload (seed ${SEED}, ${USERS} users, ${REQUESTS} requests, first ${warmup} not counted), Node ${process.version}`,
);
console.log("median µs per request; ratios new/old and scans/old");
console.log(["body", "requests", "old", "scans", "new", "scans/old", "new/old"].map((c) => c.padStart(10)).join(""));
for (const bucket of BUCKETS) {
  const pick = (times: number[]) => times.filter((_, j) => sizes[j]! >= bucket.min && sizes[j]! < bucket.max);
  const [old, scans, next] = chains.map((c) => median(pick(c.times)));
  const count = sizes.filter((s) => s >= bucket.min && s < bucket.max).length;
  console.log(
    [bucket.label, String(count), us(old!), us(scans!), us(next!), ratio(scans!, old!), ratio(next!, old!)]
      .map((c) => c.padStart(10))
      .join(""),
  );
}
const cpuPer = chains.map((c) => (c.cpuMicros / measured).toFixed(1));
console.log(
  `process CPU µs per request (mean, getrusage): old ${cpuPer[0]}, scans ${cpuPer[1]}, new ${cpuPer[2]}; new/old ${(chains[2]!.cpuMicros / chains[0]!.cpuMicros).toFixed(3)}x`,
);

// ---- the history memory's path: each request's new messages alone ---------------------------------

// What the gateway scans of a chat request once ../../runtime/llm/history/ has matched its history: the messages
// the request adds, without the verdict caches (nothing to find there). No memory makes this cheaper: it is the
// scanning every agent request costs, whatever the rest of the gateway does.
const addedOnly = createRequestGuard(compiled).perMessage.chat;
const addedTimes: number[] = [];
let addedCpuMicros = 0;
let addedChars = 0;
for (const request of createAgentWorkload({ seed: SEED, users: USERS }).take(REQUESTS).slice(warmup)) {
  const { messages } = JSON.parse(request.body) as { messages: unknown[] };
  const added = messages.slice(messages.length - request.newMessages);
  addedChars += JSON.stringify(added).length;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (const message of added) addedOnly.guardMessage(message, false);
  addedTimes.push(Number(process.hrtime.bigint() - start));
  const used = process.cpuUsage(cpu);
  addedCpuMicros += used.user + used.system;
}
console.log(
  `new messages alone (the history memory's path; ${Math.round(addedChars / addedTimes.length)} chars of JSON per request on average): ` +
    `median µs ${us(median(addedTimes))}, process CPU µs per request ${(addedCpuMicros / addedTimes.length).toFixed(1)}`,
);

// ---- MCP tool results: every one new, so only the scans count ------------------------------------

const nextCall = createToolCallWorkload({ seed: SEED });
const results = Array.from(
  { length: TOOL_RESULTS },
  () => toolResult(seedOf(nextCall().arguments.query), { minBytes: 2048, maxBytes: 8192 }).text,
);
const old = oldScan();
const toolScans: { name: string; scan: (text: string) => unknown; times: number[] }[] = [
  { name: "old", scan: (text) => old(text, "tool"), times: [] },
  { name: "new", scan: (text) => compiled.guardRequestText(text, "tool"), times: [] },
];
for (let round = 0; round < 3; round++)
  results.forEach((text, i) => {
    for (let k = 0; k < toolScans.length; k++) {
      const entry = toolScans[(i + k + round) % toolScans.length]!;
      const start = process.hrtime.bigint();
      entry.scan(text);
      if (round > 0) entry.times.push(Number(process.hrtime.bigint() - start));
    }
  });
const [toolOld, toolNew] = toolScans.map((s) => median(s.times));
const averageBytes = Math.round(results.reduce((n, r) => n + r.length, 0) / results.length);
console.log(
  `MCP tool result (${TOOL_RESULTS} results, ${averageBytes} B on average), request-side scan, median µs: old ${us(toolOld!)}, new ${us(toolNew!)}; new/old ${ratio(toolNew!, toolOld!)}`,
);

// ---- the injection detector alone: vard vs the compiled patterns ----------------------------------

const injectionTexts = createAgentWorkload({ seed: SEED + 1, users: USERS })
  .take(400)
  .flatMap((request) => request.messages.slice(request.messages.length - request.newMessages))
  .filter((message) => message.role === "user" || message.role === "tool")
  .map((message) => message.content as string);
const vardFind = oldInjectionFind();
const compiledFind = compiled.injection!.find;
const injectionTimes: number[][] = [[], []];
for (let round = 0; round < 3; round++)
  injectionTexts.forEach((text, i) => {
    for (let k = 0; k < 2; k++) {
      const which = (i + k + round) % 2;
      const start = process.hrtime.bigint();
      (which === 0 ? vardFind : compiledFind)(text);
      if (round > 0) injectionTimes[which]!.push(Number(process.hrtime.bigint() - start));
    }
  });
const injectionChars = Math.round(injectionTexts.reduce((n, t) => n + t.length, 0) / injectionTexts.length);
const [vardMedian, compiledMedian] = injectionTimes.map(median);
console.log(
  `injection detector on ${injectionTexts.length} user and tool texts (${injectionChars} chars on average), median µs: ` +
    `vard ${us(vardMedian!)}, compiled patterns ${us(compiledMedian!)}; compiled/vard ${ratio(compiledMedian!, vardMedian!)}`,
);

// ---- remembering a verdict vs scanning again, for short texts -------------------------------------

const piiOnly = compileGuardPolicy({ ...POLICY, promptInjection: undefined } as GuardPolicy);
const time = (f: () => unknown, n = 20_000) => {
  for (let i = 0; i < n; i++) f();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - start) / n;
};
console.log("short texts, ns: SHA-256 of the text (the cache key) vs scanning it as user input");
for (const text of ["ok", "Thanks, please check ticket #48213.", "x".repeat(256)]) {
  console.log(
    `  ${String(text.length).padStart(4)} chars: hash ${time(() => hash("sha256", text, "base64")).toFixed(0)}, ` +
      `scan (full chain) ${time(() => compiled.guardRequestText(text, "user")).toFixed(0)}, ` +
      `scan (PII only) ${time(() => piiOnly.guardRequestText(text, "user")).toFixed(0)}`,
  );
}
