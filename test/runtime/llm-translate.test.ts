import { describe, expect, it } from "vitest";
import {
  AnthropicStreamTranslator,
  chatToMessagesRequest,
  messagesToChatResponse,
} from "../../runtime/llm/anthropic-translate.js";
import { SseParser } from "../../runtime/llm/stream/sse.js";

describe("chat.completions → Anthropic Messages", () => {
  it("moves system prompts out, turns tool calls into tool_use and tool messages into tool_result", () => {
    const request = chatToMessagesRequest(
      {
        model: "gpt-4o",
        max_tokens: 300,
        stop: "END",
        messages: [
          { role: "system", content: "Be terse." },
          { role: "user", content: "Weather in Oslo?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
            ],
          },
          { role: "tool", tool_call_id: "call_1", content: "4°C, rain" },
          { role: "user", content: "Umbrella?" },
        ],
        tools: [
          {
            type: "function",
            function: {
              name: "get_weather",
              description: "Weather by city",
              parameters: { type: "object", properties: { city: { type: "string" } } },
            },
          },
        ],
        tool_choice: "required",
      },
      "claude-x",
    );
    expect(request).toEqual({
      model: "claude-x",
      max_tokens: 300,
      system: "Be terse.",
      stop_sequences: ["END"],
      messages: [
        { role: "user", content: [{ type: "text", text: "Weather in Oslo?" }] },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Oslo" } }],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "call_1", content: "4°C, rain" },
            { type: "text", text: "Umbrella?" },
          ],
        },
      ],
      tools: [
        {
          name: "get_weather",
          description: "Weather by city",
          input_schema: { type: "object", properties: { city: { type: "string" } } },
        },
      ],
      tool_choice: { type: "any" },
    });
  });

  it("translates a tool_use answer into tool_calls with finish_reason tool_calls and usage", () => {
    const chat = messagesToChatResponse(
      {
        id: "msg_1",
        model: "claude-x",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "tu_1", name: "get_weather", input: { city: "Oslo" } },
        ],
        stop_reason: "tool_use",
        usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 2 },
      },
      1,
    );
    expect(chat.choices[0]).toMatchObject({
      finish_reason: "tool_calls",
      message: {
        role: "assistant",
        content: "Checking.",
        tool_calls: [{ id: "tu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }],
      },
    });
    expect(chat.usage).toEqual({
      prompt_tokens: 12,
      completion_tokens: 5,
      total_tokens: 17,
      prompt_tokens_details: { cached_tokens: 2 },
    });
  });

  it("translates a streamed tool call into chat.completion chunks", () => {
    const t = new AnthropicStreamTranslator();
    const events = [
      {
        type: "message_start",
        message: { id: "msg_2", model: "claude-x", usage: { input_tokens: 7, output_tokens: 1 } },
      },
      { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "tu_2", name: "lookup" } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '{"q":' } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '"x"}' } },
      { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } },
      { type: "message_stop" },
    ].map((e) => t.translate(e));
    const chunks = events.flatMap((e) => e.chunks ?? []);
    expect(chunks[1]?.choices[0].delta.tool_calls[0]).toEqual({
      index: 0,
      id: "tu_2",
      type: "function",
      function: { name: "lookup", arguments: "" },
    });
    // argument fragments come back separately, so the relay can scan them before sending
    expect(events.flatMap((e) => (e.toolArgs ? [e.toolArgs] : []))).toEqual([
      { index: 0, text: '{"q":' },
      { index: 0, text: '"x"}' },
    ]);
    expect(t.toolArgsChunk(0, "{}").choices[0].delta).toEqual({
      tool_calls: [{ index: 0, function: { arguments: "{}" } }],
    });
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe("tool_calls");
    expect(events.at(-1)?.done).toBe(true);
    expect(t.usage).toEqual({ input: 7, output: 9, cachedInput: 0, cacheCreationInput: 0 });
  });
});

describe("SSE parsing", () => {
  it("reassembles events split anywhere across chunks, CRLF included", () => {
    const text = 'event: a\r\ndata: {"x":1}\r\n\r\ndata: line1\ndata: line2\n\n: comment\n\ndata: [DONE]\n\n';
    const parser = new SseParser();
    const bytes = new TextEncoder().encode(text);
    const events = [];
    for (let i = 0; i < bytes.length; i += 3) events.push(...parser.push(bytes.slice(i, i + 3)));
    events.push(...parser.end());
    expect(events.map(({ event, data }) => ({ event, data }))).toEqual([
      { event: "a", data: '{"x":1}' },
      { event: undefined, data: "line1\nline2" },
      { event: undefined, data: "[DONE]" },
    ]);
  });

  it("gives each usual block's span in the read's text, and the read's own bytes only when they map character for byte", () => {
    const parser = new SseParser();
    const ascii = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: {"c"';
    const first = parser.push(Buffer.from(ascii));
    expect(first.map((e) => parser.source.text.slice(e.start, e.end))).toEqual([
      'data: {"a":1}\n\n',
      'data: {"b":2}\n\n',
    ]);
    expect(Buffer.from(parser.source.bytes ?? []).toString()).toBe(ascii);
    // Carried-over text: spans refer to the joined text, and the read's bytes are not that text.
    const second = parser.push(Buffer.from(":3}\n\n"));
    expect(second.map((e) => parser.source.text.slice(e.start, e.end))).toEqual(['data: {"c":3}\n\n']);
    expect(parser.source.bytes).toBeUndefined();
    // Non-ASCII: characters are not bytes.
    const third = parser.push(Buffer.from('data: {"d":"caf\u00e9"}\n\n'));
    expect(third.map((e) => parser.source.text.slice(e.start, e.end))).toEqual(['data: {"d":"caf\u00e9"}\n\n']);
    expect(parser.source.bytes).toBeUndefined();
    // A read that completes a character split across reads, then ASCII of the same length: not its own bytes either.
    const euro = Buffer.from("\u20ac");
    parser.push(Buffer.concat([Buffer.from('data: "'), euro.subarray(0, 2)]));
    parser.push(Buffer.concat([euro.subarray(2), Buffer.from('"\n\n')]));
    expect(parser.source.bytes).toBeUndefined();
  });

  it("keeps a CRLF split across two reads as one line ending", () => {
    const parser = new SseParser();
    const enc = new TextEncoder();
    const events = [...parser.push(enc.encode("data: x\r")), ...parser.push(enc.encode("\ndata: y\r\n\r\n"))];
    expect(events).toEqual([{ event: undefined, data: "x\ny" }]);
  });
});
