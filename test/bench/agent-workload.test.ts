import { describe, expect, it } from "vitest";
import {
  type AgentMessage,
  type AgentRequest,
  createAgentWorkload,
  createToolCallWorkload,
  seedOf,
  toolResult,
} from "../../bench/workload/agent.js";
import { compileInjectionGuard, compilePiiGuard, findCredentials } from "../../policies/guards/index.js";

const pii = compilePiiGuard({
  mode: "mask",
  detectors: ["email", "phone", "ssn", "payment-card", "ip-address"],
  extraPatterns: [],
});
const injection = compileInjectionGuard({ mode: "block", sensitivity: "moderate" });

/** The texts of a message a request guard scans: content, or a tool call's arguments. */
const textsOf = (message: AgentMessage): string[] =>
  "tool_calls" in message ? message.tool_calls.map((call) => call.function.arguments) : [message.content];

const newMessages = (request: AgentRequest) => request.messages.slice(request.messages.length - request.newMessages);

describe("agent workload", () => {
  it("gives the same bytes for the same seed, and other bytes for another seed", () => {
    const a = createAgentWorkload({ seed: 7, users: 8 }).take(300);
    const b = createAgentWorkload({ seed: 7, users: 8 }).take(300);
    const c = createAgentWorkload({ seed: 8, users: 8 }).take(300);
    expect(a.map((r) => r.body)).toEqual(b.map((r) => r.body));
    expect(a.map((r) => r.body)).not.toEqual(c.map((r) => r.body));
  });

  it("keeps every body within the size bounds, and grows each conversation turn by turn towards the maximum", () => {
    const requests = createAgentWorkload({ seed: 1, users: 4 }).take(600);
    for (const r of requests) {
      expect(r.bytes).toBe(Buffer.byteLength(r.body));
      expect(r.bytes).toBeGreaterThanOrEqual(4096);
      expect(r.bytes).toBeLessThanOrEqual(65536);
    }
    const byConversation = new Map<number, AgentRequest[]>();
    for (const r of requests) byConversation.set(r.conversation, [...(byConversation.get(r.conversation) ?? []), r]);
    const finished = [...byConversation.values()].slice(0, -4); // each user's last one may still be growing
    expect(finished.length).toBeGreaterThan(10);
    for (const turns of finished) {
      expect(turns.map((r) => r.turn)).toEqual(turns.map((_, i) => i));
      for (let i = 1; i < turns.length; i++) expect(turns[i]!.bytes).toBeGreaterThan(turns[i - 1]!.bytes);
      // Each request resends the previous one's history unchanged.
      for (let i = 1; i < turns.length; i++)
        expect(turns[i]!.messages.slice(0, turns[i - 1]!.messages.length)).toEqual(turns[i - 1]!.messages);
      expect(turns.at(-1)!.bytes).toBeGreaterThan(40_000);
    }
  });

  it("sends tool calls with JSON arguments and their JSON results, many users, and the streaming fraction asked", () => {
    const requests = createAgentWorkload({ seed: 2, users: 50, streamFraction: 0.3 }).take(2000);
    expect(new Set(requests.map((r) => r.user)).size).toBe(50);
    const streamed = requests.filter((r) => r.stream).length / requests.length;
    expect(streamed).toBeGreaterThan(0.26);
    expect(streamed).toBeLessThan(0.34);
    const toolCalls = requests.flatMap(newMessages).flatMap((m) => ("tool_calls" in m ? m.tool_calls : []));
    expect(toolCalls.length).toBeGreaterThan(300);
    for (const call of toolCalls) expect(() => JSON.parse(call.function.arguments) as unknown).not.toThrow();
    const results = requests.flatMap(newMessages).filter((m) => m.role === "tool");
    expect(results.length).toBe(toolCalls.length);
    for (const result of results) expect(() => JSON.parse(result.content) as unknown).not.toThrow();
    for (const r of requests.slice(0, 50))
      expect((JSON.parse(r.body) as { stream?: boolean }).stream === true).toBe(r.stream);
  });

  it("puts PII in about the fraction of new messages asked, and the PII guard finds it in exactly those", () => {
    for (const fraction of [0.1, 0.4]) {
      const requests = createAgentWorkload({ seed: 3, users: 16, piiFraction: fraction }).take(1500);
      let withPii = 0;
      let total = 0;
      for (const r of requests) {
        newMessages(r).forEach((message, i) => {
          total++;
          if (r.newPii[i]) withPii++;
          const found = textsOf(message).some((text) => pii.find(text).length > 0);
          expect(found, `message ${i} of request ${r.conversation}/${r.turn}`).toBe(r.newPii[i]);
        });
      }
      expect(withPii / total).toBeGreaterThan(fraction - 0.04);
      expect(withPii / total).toBeLessThan(fraction + 0.04);
    }
  });

  it("holds nothing the injection guard refuses, so the benchmark measures traffic that passes", () => {
    const requests = createAgentWorkload({ seed: 4, users: 8, piiFraction: 0.3 }).take(400);
    const texts = new Set(requests.flatMap((r) => r.messages.flatMap(textsOf)));
    for (const text of texts) expect(injection.find(text)).toEqual([]);
  });

  it("derives several-KB MCP tool results from the call's arguments, deterministically, with no credential in them", async () => {
    const nextCall = createToolCallWorkload({ seed: 5 });
    const calls = Array.from({ length: 40 }, nextCall);
    expect(calls).toEqual(Array.from({ length: 40 }, createToolCallWorkload({ seed: 5 })));
    for (const call of calls) {
      const seed = seedOf(call.arguments.query);
      const result = toolResult(seed, { minBytes: 2048, maxBytes: 8192 });
      expect(result).toEqual(toolResult(seed, { minBytes: 2048, maxBytes: 8192 }));
      expect(result.text.length).toBeGreaterThanOrEqual(2048);
      expect(result.text.length).toBeLessThan(8192 + 1024);
      expect(await findCredentials(result.text)).toEqual([]);
      expect(pii.find(result.text).length > 0).toBe(result.pii);
    }
  });

  it("spreads MCP calls over many users and their sessions, deterministically, with the same arguments for a seed whoever calls", () => {
    const options = { seed: 6, users: 32, sessionsPerUser: 2 };
    const calls = Array.from({ length: 2000 }, createToolCallWorkload(options));
    expect(calls).toEqual(Array.from({ length: 2000 }, createToolCallWorkload(options)));
    expect(calls).not.toEqual(Array.from({ length: 2000 }, createToolCallWorkload({ ...options, seed: 7 })));
    const lanes = new Map<string, number>();
    for (const call of calls) {
      expect(call.user).toBeGreaterThanOrEqual(0);
      expect(call.user).toBeLessThan(32);
      expect([0, 1]).toContain(call.session);
      lanes.set(`${call.user}/${call.session}`, (lanes.get(`${call.user}/${call.session}`) ?? 0) + 1);
    }
    expect(lanes.size).toBe(64);
    // No session takes more than a few times its share (2000 / 64 = 31).
    expect(Math.max(...lanes.values())).toBeLessThan(70);
    expect(new Set(calls.map((call) => call.arguments.query)).size).toBe(calls.length);
    const alone = Array.from({ length: 2000 }, createToolCallWorkload({ seed: 6 }));
    expect(alone.map((call) => call.arguments)).toEqual(calls.map((call) => call.arguments));
    expect(new Set(alone.map((call) => `${call.user}/${call.session}`))).toEqual(new Set(["0/0"]));
  });

  it("names the option and the fix when an option is out of range", () => {
    expect(() => createToolCallWorkload({ seed: 1, users: 0 })).toThrow(/users: expected an integer >= 1/);
    expect(() => createToolCallWorkload({ seed: 1, sessionsPerUser: 1.5 })).toThrow(
      /sessionsPerUser: expected an integer/,
    );
    expect(() => createAgentWorkload({ seed: 1, piiFraction: 1.5 })).toThrow(/piiFraction: expected a fraction/);
    expect(() => createAgentWorkload({ seed: 1, users: 0 })).toThrow(/users: expected an integer >= 1/);
    expect(() => createAgentWorkload({ seed: 1, minBodyBytes: 4096, maxBodyBytes: 5000 })).toThrow(/maxBodyBytes/);
  });
});
