import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { type BenchUpstream, lastUserMessage, startBenchUpstream } from "../../bench/support/llm-stand-in.js";
import { createAgentWorkload } from "../../bench/workload/agent.js";

// The benchmarks' light stand-in must answer what the examples' stand-in answers (the last user message,
// usage when a stream asks for it), read by the official client, without parsing the request.
let light: BenchUpstream;
let lightPerEvent: BenchUpstream;
let examples: LlmUpstream;

beforeAll(async () => {
  light = await startBenchUpstream({ streamWrites: "whole" });
  lightPerEvent = await startBenchUpstream({ streamWrites: "per-event" });
  examples = await startLlmUpstream({ maxRecorded: 0 });
});
afterAll(async () => {
  await light.close();
  await lightPerEvent.close();
  await examples.close();
});

const client = (url: string) => new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });

async function streamed(url: string, body: Record<string, unknown>): Promise<{ text: string; usage: unknown }> {
  const stream = await client(url).chat.completions.create({
    ...(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming),
    stream: true,
  });
  let text = "";
  let usage: unknown;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage };
}

describe("the benchmarks' LLM stand-in", () => {
  it("answers each agent request with the same text as the examples' stand-in, JSON and streamed", async () => {
    const requests = createAgentWorkload({ seed: 9, users: 4, piiFraction: 0.3 }).take(40);
    for (const request of requests) {
      const body = JSON.parse(request.body) as OpenAI.ChatCompletionCreateParamsNonStreaming;
      const ours = await client(light.url).chat.completions.create(body);
      const theirs = await client(examples.url).chat.completions.create(body);
      expect(ours.choices[0]?.message.content).toBe(theirs.choices[0]?.message.content);
      expect(ours.usage?.prompt_tokens).toBe(Math.ceil(request.bytes / 4));
      const withUsage = { ...body, stream_options: { include_usage: true } };
      const whole = await streamed(light.url, withUsage);
      const perEvent = await streamed(lightPerEvent.url, withUsage);
      expect(whole.text).toBe(theirs.choices[0]?.message.content);
      expect(perEvent.text).toBe(whole.text);
      expect(whole.usage).toMatchObject({ completion_tokens: Math.ceil(whole.text.length / 4) });
      expect((await streamed(light.url, body as unknown as Record<string, unknown>)).usage).toBeUndefined();
    }
  });

  it("finds the last user message's text with escaped quotes and backslashes in it, and never a tool's", () => {
    const text = 'He said "close #4411" \\ then left.\\"';
    const body = JSON.stringify({
      model: "m",
      messages: [
        { role: "user", content: text },
        { role: "tool", tool_call_id: "c", content: '{"role":"user","content":"not this"}' },
      ],
    });
    expect(lastUserMessage(body)).toBe(text);
  });
});
