/**
 * A model's reasoning is model output like its answer: the credential-leak guard reads it. The official
 * openai SDK (`responses.create`, streamed and JSON) and the official Anthropic SDK (`messages`) against
 * the real gateway, whose providers are the local stand-in scripted to reason before it answers: a key in
 * the reasoning summary, the raw reasoning text or an Anthropic thinking block is blocked or masked like
 * one in the answer, and clean reasoning goes through as the provider's own bytes.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";

// Built at runtime so this file holds no literal credential.
const KEY = ["sk", "proj", "Rt5Yu6Io7Pa8Sd9Fg0Hj1Kl2Zx3Cv4Bn"].join("-");
const THOUGHT = `The user wants the deploy key. I will use ${KEY} for that. `;
const AT = THOUGHT.indexOf(KEY);
/** The reasoning cut into 2 or 3 deltas, each cut inside the key. */
const SPLITS: Readonly<Record<2 | 3, readonly string[]>> = {
  2: [THOUGHT.slice(0, AT + 12), THOUGHT.slice(AT + 12)],
  3: [THOUGHT.slice(0, AT + 5), THOUGHT.slice(AT + 5, AT + 22), THOUGHT.slice(AT + 22)],
};
/** What of the key each split's deltas carry: none of it may reach a client in block mode. */
const keyPieces = (deltas: readonly string[]) =>
  deltas.map((d) => d.slice(Math.max(0, d.indexOf("sk-"))).slice(0, KEY.length)).filter((p) => KEY.includes(p));
const MASK = /\[REDACTED:[a-z0-9-]+\]/;
const CLEAN = ["Thinking it over: ", "the user only said hello, ", "so I greet them back. "];

let upstream: LlmUpstream;
let platform: TestPlatform;
let token: string;

beforeAll(async () => {
  upstream = await startLlmUpstream();
  const provider = { id: "openai", kind: "openai" as const, baseUrl: `${upstream.url}/v1`, apiKey: { env: "K" } };
  const claude = { id: "anthropic", kind: "anthropic" as const, baseUrl: upstream.url, apiKey: { env: "K" } };
  const vllm = { id: "vllm", kind: "openai-compatible" as const, baseUrl: `${upstream.url}/vllm/v1` };
  platform = await startTestPlatform({
    env: { K: "gw-key" },
    bundle: (bundle) => ({
      ...bundle,
      llm: {
        routes: [
          { id: "block", pathPrefix: "/block", policy: "default", providers: [provider] },
          { id: "mask", pathPrefix: "/mask", policy: "mask", providers: [provider] },
          { id: "claude-block", pathPrefix: "/claude-block", policy: "default", providers: [claude] },
          { id: "claude-mask", pathPrefix: "/claude-mask", policy: "mask", providers: [claude] },
          { id: "vllm-block", pathPrefix: "/vllm-block", policy: "default", providers: [vllm] },
          { id: "vllm-mask", pathPrefix: "/vllm-mask", policy: "mask", providers: [vllm] },
        ],
      },
      guardPolicies: [
        { id: "default", credentialLeak: { mode: "block", holdBackChars: 256 } },
        { id: "mask", credentialLeak: { mode: "mask", holdBackChars: 256 } },
      ],
    }),
  });
  token = await platform.token("reader");
}, 60_000);

afterAll(async () => {
  await platform?.close();
  await upstream?.close();
});

beforeEach(() => upstream.reset());

const openai = (prefix: string) => new OpenAI({ baseURL: `${platform.url}${prefix}/v1`, apiKey: token, maxRetries: 0 });
const anthropic = (prefix: string) =>
  new Anthropic({ baseURL: `${platform.url}${prefix}`, authToken: token, apiKey: null, maxRetries: 0 });
const lastLlmEvent = () => platform.audit.filter((e) => e.kind === "llm").at(-1);
type Event = OpenAI.Responses.ResponseStreamEvent;

/** Every event of a Responses stream, and the error that ended it (if one did). */
async function readStream(prefix: string): Promise<{ events: Event[]; error: unknown }> {
  const stream = await openai(prefix).responses.create({ model: "gpt-4o-mini", input: "key?", stream: true });
  const events: Event[] = [];
  const error = await (async () => {
    for await (const event of stream) events.push(event);
  })().catch((e: unknown) => e);
  return { events, error };
}

/** The reasoning text of a Responses stream, as each of its events carries it. */
function reasoningTexts(events: readonly Event[], as: "summary" | "text") {
  const of = <T extends Event["type"]>(type: T) =>
    events.filter((e): e is Extract<Event, { type: T }> => e.type === type);
  const itemText = (item: OpenAI.Responses.ResponseOutputItem | undefined) =>
    item?.type === "reasoning" ? (as === "summary" ? item.summary[0]?.text : item.content?.[0]?.text) : undefined;
  const completed = of("response.completed")[0]?.response.output[0];
  const itemDone = of("response.output_item.done").find((e) => e.item.type === "reasoning")?.item;
  if (as === "summary")
    return {
      deltas: of("response.reasoning_summary_text.delta")
        .map((e) => e.delta)
        .join(""),
      done: of("response.reasoning_summary_text.done")[0]?.text,
      partDone: of("response.reasoning_summary_part.done")[0]?.part.text,
      itemDone: itemText(itemDone),
      completed: itemText(completed),
    };
  const partDone = of("response.content_part.done").find((e) => e.output_index === 0)?.part;
  return {
    deltas: of("response.reasoning_text.delta")
      .map((e) => e.delta)
      .join(""),
    done: of("response.reasoning_text.done")[0]?.text,
    partDone: partDone && "text" in partDone ? partDone.text : undefined,
    itemDone: itemText(itemDone),
    completed: itemText(completed),
  };
}

describe("reasoning in a Responses stream from an OpenAI provider", () => {
  it.each([
    ["summary", 2],
    ["summary", 3],
    ["text", 3],
  ] as const)(
    "block: a key split across %s deltas (%i) ends the stream with an error event before any of the key",
    async (as, count) => {
      const deltas = SPLITS[count];
      upstream.scriptReasoning(deltas, ["Here it is."], { paceMs: 2, as });
      const { events, error } = await readStream("/block");
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("guard_blocked");
      const seen = JSON.stringify(events);
      expect(seen).not.toContain("sk-");
      for (const piece of keyPieces(deltas)) expect(seen).not.toContain(piece);
      // The stream ended there: neither the answer nor a completed response followed.
      expect(events.map((e) => e.type)).not.toContain("response.output_text.delta");
      expect(events.map((e) => e.type)).not.toContain("response.completed");
      expect(lastLlmEvent()).toMatchObject({
        decision: "block",
        rule: "guard: credential-leak",
        method: "POST /v1/responses",
      });
    },
  );

  it.each([
    ["summary", 2],
    ["summary", 3],
    ["text", 3],
  ] as const)(
    "mask: a key split across %s deltas (%i) is masked in the deltas, the .done events and response.completed",
    async (as, count) => {
      upstream.scriptReasoning(SPLITS[count], ["Here it is."], { paceMs: 2, as });
      const { events, error } = await readStream("/mask");
      expect(error).toBeUndefined();
      expect(JSON.stringify(events)).not.toContain(KEY.slice(6));
      const texts = reasoningTexts(events, as);
      expect(texts.deltas).toMatch(MASK);
      expect(texts.deltas.startsWith(THOUGHT.slice(0, AT))).toBe(true);
      expect(texts.deltas.endsWith(" for that. ")).toBe(true);
      expect(texts).toEqual({
        deltas: texts.deltas,
        done: texts.deltas,
        partDone: texts.deltas,
        itemDone: texts.deltas,
        completed: texts.deltas,
      });
      const answer = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta);
      expect(answer.join("")).toBe("Here it is.");
      expect(lastLlmEvent()).toMatchObject({ decision: "redact", redactions: expect.any(Object) });
    },
  );

  it("clean reasoning goes through as the provider's bytes; the same reasoning with a key in it does not", async () => {
    upstream.scriptReasoning(CLEAN, ["Hello!"], { paceMs: 2 });
    const response = await openai("/block")
      .responses.create({ model: "gpt-4o-mini", input: "hi", stream: true })
      .asResponse();
    expect(await response.text()).toBe(upstream.requests.at(-1)?.reply);
    expect(lastLlmEvent()).toMatchObject({ decision: "allow" });

    upstream.scriptReasoning([...CLEAN, ...SPLITS[2]], ["Hello!"], { paceMs: 2 });
    const { events, error } = await readStream("/block");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(reasoningTexts(events, "summary").deltas).toBe(`${CLEAN.join("")}${THOUGHT.slice(0, AT)}`);
  });
});

describe("reasoning in a JSON Response from an OpenAI provider", () => {
  it("block: a key in the reasoning summary or the reasoning text is refused with a 403 that does not carry it", async () => {
    for (const as of ["summary", "text"] as const) {
      upstream.scriptReasoning([THOUGHT], ["Here it is."], { as });
      const error = await openai("/block")
        .responses.create({ model: "gpt-4o-mini", input: "key?" })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(JSON.stringify(error)).not.toContain(KEY.slice(0, 8));
      expect(lastLlmEvent()).toMatchObject({ decision: "block", rule: "guard: credential-leak", status: 403 });
    }
  });

  it("mask: the key is masked in the summary and the reasoning text; clean reasoning comes back as the provider's bytes", async () => {
    for (const as of ["summary", "text"] as const) {
      upstream.scriptReasoning([THOUGHT], ["Here it is."], { as });
      const response = await openai("/mask").responses.create({ model: "gpt-4o-mini", input: "key?" });
      expect(JSON.stringify(response)).not.toContain(KEY.slice(6));
      const item = response.output[0];
      const text =
        item?.type === "reasoning" ? (as === "summary" ? item.summary[0]?.text : item.content?.[0]?.text) : "";
      expect(text).toMatch(MASK);
      expect(text?.replace(MASK, "KEY")).toBe(THOUGHT.replace(KEY, "KEY"));
      expect(response.output_text).toBe("Here it is.");
      expect(lastLlmEvent()).toMatchObject({ decision: "redact" });
    }

    upstream.scriptReasoning(CLEAN, ["Hello!"]);
    const clean = await openai("/mask").responses.create({ model: "gpt-4o-mini", input: "hi" }).asResponse();
    expect(await clean.text()).toBe(upstream.requests.at(-1)?.reply);
  });
});

describe("thinking blocks passed through to an Anthropic client (/v1/messages)", () => {
  const request = {
    model: "claude-stand-in",
    max_tokens: 100,
    messages: [{ role: "user" as const, content: "key?" }],
  };
  type StreamEvent = Anthropic.Messages.RawMessageStreamEvent;
  const readMessages = async (prefix: string) => {
    const stream = await anthropic(prefix).messages.create({ ...request, stream: true });
    const events: StreamEvent[] = [];
    const error = await (async () => {
      for await (const event of stream) events.push(event);
    })().catch((e: unknown) => e);
    return { events, error };
  };
  const thinking = (events: readonly StreamEvent[]) =>
    events
      .map((e) => (e.type === "content_block_delta" && e.delta.type === "thinking_delta" ? e.delta.thinking : ""))
      .join("");

  it.each([2, 3] as const)(
    "block: a key split across %i thinking deltas ends the stream before any of it",
    async (count) => {
      const deltas = SPLITS[count];
      upstream.scriptReasoning(deltas, ["Here it is."], { paceMs: 2 });
      const { events, error } = await readMessages("/claude-block");
      expect(error).toBeInstanceOf(Anthropic.APIError);
      const seen = JSON.stringify(events);
      expect(seen).not.toContain("sk-");
      for (const piece of keyPieces(deltas)) expect(seen).not.toContain(piece);
      expect(events.map((e) => e.type)).not.toContain("message_stop");
      expect(lastLlmEvent()).toMatchObject({ decision: "block", method: "POST /v1/messages" });
    },
  );

  it("mask: the thinking deltas carry the mask, released before the block's signature", async () => {
    upstream.scriptReasoning(SPLITS[3], ["Here it is."], { paceMs: 2 });
    const { events, error } = await readMessages("/claude-mask");
    expect(error).toBeUndefined();
    expect(JSON.stringify(events)).not.toContain(KEY.slice(6));
    expect(thinking(events).replace(MASK, "KEY")).toBe(THOUGHT.replace(KEY, "KEY"));
    const block0 = events.filter((e) => e.type === "content_block_delta" && e.index === 0);
    expect(block0.at(-1)).toMatchObject({ delta: { type: "signature_delta" } });
    expect(lastLlmEvent()).toMatchObject({ decision: "redact", method: "POST /v1/messages" });
  });

  it("JSON: a key in a thinking block is refused in block mode and masked in mask mode; clean thinking is the provider's bytes", async () => {
    upstream.scriptReasoning([THOUGHT], ["Here it is."]);
    const error = await anthropic("/claude-block")
      .messages.create(request)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(JSON.stringify(error)).not.toContain(KEY.slice(0, 8));

    upstream.scriptReasoning([THOUGHT], ["Here it is."]);
    const message = await anthropic("/claude-mask").messages.create(request);
    const block = message.content[0];
    expect(block?.type === "thinking" ? block.thinking.replace(MASK, "KEY") : "").toBe(THOUGHT.replace(KEY, "KEY"));
    expect(JSON.stringify(message)).not.toContain(KEY.slice(6));

    upstream.scriptReasoning(CLEAN, ["Hello!"]);
    const clean = await anthropic("/claude-block").messages.create(request).asResponse();
    expect(await clean.text()).toBe(upstream.requests.at(-1)?.reply);
    upstream.scriptReasoning(CLEAN, ["Hello!"], { paceMs: 2 });
    const streamed = await anthropic("/claude-block")
      .messages.create({ ...request, stream: true })
      .asResponse();
    expect(await streamed.text()).toBe(upstream.requests.at(-1)?.reply);
  });
});

describe("reasoning_content of an OpenAI-compatible provider passed through on /v1/chat/completions", () => {
  const request = { model: "deepseek-r1", messages: [{ role: "user" as const, content: "key?" }] };
  /** The chat chunks of a stream (reasoning_content is not in the SDK's types: read as JSON). */
  const readChat = async (prefix: string) => {
    const stream = await openai(prefix).chat.completions.create({ ...request, stream: true });
    const chunks: { choices: { delta: { content?: string | null; reasoning_content?: string } }[] }[] = [];
    const error = await (async () => {
      for await (const chunk of stream) chunks.push(chunk as unknown as (typeof chunks)[number]);
    })().catch((e: unknown) => e);
    const field = (name: "content" | "reasoning_content") =>
      chunks.map((c) => c.choices[0]?.delta[name] ?? "").join("");
    return { raw: JSON.stringify(chunks), error, reasoning: field("reasoning_content"), content: field("content") };
  };

  it.each([2, 3] as const)(
    "block: a key split across %i reasoning_content deltas ends the stream before any of it",
    async (count) => {
      const deltas = SPLITS[count];
      upstream.scriptReasoning(deltas, ["Here it is."], { paceMs: 2 });
      const { raw, error, content } = await readChat("/vllm-block");
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(raw).not.toContain("sk-");
      for (const piece of keyPieces(deltas)) expect(raw).not.toContain(piece);
      expect(content).toBe("");
      expect(lastLlmEvent()).toMatchObject({ decision: "block", method: "POST /v1/chat/completions" });
    },
  );

  it("mask: the reasoning_content deltas carry the mask, all of it before the content", async () => {
    upstream.scriptReasoning(SPLITS[3], ["Here ", "it ", "is."], { paceMs: 2 });
    const { raw, error, reasoning, content } = await readChat("/vllm-mask");
    expect(error).toBeUndefined();
    expect(raw).not.toContain(KEY.slice(6));
    expect(reasoning.replace(MASK, "KEY")).toBe(THOUGHT.replace(KEY, "KEY"));
    expect(content).toBe("Here it is.");
    // Every reasoning chunk comes before the first content chunk.
    expect(raw.lastIndexOf("reasoning_content")).toBeLessThan(raw.indexOf('"content":"Here'));
  });

  it("JSON: a key in message.reasoning_content is refused or masked; clean reasoning streams as the provider's bytes", async () => {
    upstream.scriptReasoning([THOUGHT], ["Here it is."]);
    const error = await openai("/vllm-block")
      .chat.completions.create(request)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(JSON.stringify(error)).not.toContain(KEY.slice(0, 8));

    upstream.scriptReasoning([THOUGHT], ["Here it is."]);
    const masked = await openai("/vllm-mask").chat.completions.create(request);
    const message = masked.choices[0]?.message as unknown as { reasoning_content: string; content: string };
    expect(message.reasoning_content.replace(MASK, "KEY")).toBe(THOUGHT.replace(KEY, "KEY"));
    expect(message.content).toBe("Here it is.");

    upstream.scriptReasoning(CLEAN, ["Hello!"], { paceMs: 2 });
    // The client asks for the usage chunk the gateway always asks the provider for: nothing is left out.
    const clean = await openai("/vllm-block")
      .chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } })
      .asResponse();
    expect(await clean.text()).toBe(upstream.requests.at(-1)?.reply);
  });
});
