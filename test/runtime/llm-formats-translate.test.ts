/**
 * The translation functions between client formats and provider formats, as pure functions: requests
 * (text, system prompt, images, tools, tool calls and tool results), answers (stop reasons, usage with
 * cached tokens), refusals naming the field, and the stream readers and writers.
 */
import { describe, expect, it } from "vitest";
import { chatToMessagesRequest, messagesToChatResponse } from "../../runtime/llm/anthropic-translate.js";
import type { Json } from "../../runtime/http/json.js";
import { ChatStreamReader } from "../../runtime/llm/stream/chat-reader.js";
import { MessagesStreamReader } from "../../runtime/llm/stream/messages-reader.js";
import { MessagesStreamWriter } from "../../runtime/llm/stream/messages-writer.js";
import type { StreamOp } from "../../runtime/llm/stream/ops.js";
import { ResponsesStreamWriter } from "../../runtime/llm/stream/responses-writer.js";
import { SseParser } from "../../runtime/llm/stream/sse.js";
import {
  chatToMessagesResponse,
  messagesToChatRequest,
  messagesUntranslatable,
  openAiErrorToAnthropic,
} from "../../runtime/llm/translate/messages-chat.js";
import { candidates, clientAnswer, untranslatable } from "../../runtime/llm/translate/plan.js";
import {
  chatToResponse,
  responsesToChatRequest,
  responsesUntranslatable,
} from "../../runtime/llm/translate/responses-chat.js";
import type { PreparedProvider } from "../../runtime/llm/providers.js";
import { type Usage, openAiUsage } from "../../runtime/llm/usage.js";

const weatherTool = { type: "object", properties: { city: { type: "string" } } };

describe("Anthropic Messages → chat.completions", () => {
  const messagesRequest: Json = {
    model: "claude-x",
    max_tokens: 300,
    system: [{ type: "text", text: "Be terse.", cache_control: { type: "ephemeral" } }],
    stop_sequences: ["END"],
    temperature: 0.2,
    tools: [{ name: "get_weather", description: "Weather by city", input_schema: weatherTool }],
    tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
    messages: [
      { role: "user", content: "Weather in Oslo?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "tu_1", name: "get_weather", input: { city: "Oslo" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "tu_1", content: [{ type: "text", text: "4°C, rain" }] },
          { type: "text", text: "Umbrella?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
        ],
      },
    ],
  };

  it("translates system, text, images, tool use, tool results, tools and tool choice", () => {
    expect(messagesUntranslatable(messagesRequest)).toBeUndefined();
    expect(messagesToChatRequest(messagesRequest, "gpt-x")).toEqual({
      model: "gpt-x",
      max_completion_tokens: 300,
      temperature: 0.2,
      stop: ["END"],
      messages: [
        { role: "system", content: "Be terse." },
        { role: "user", content: "Weather in Oslo?" },
        {
          role: "assistant",
          content: "Checking.",
          tool_calls: [
            { id: "tu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: "tool", tool_call_id: "tu_1", content: "4°C, rain" },
        {
          role: "user",
          content: [
            { type: "text", text: "Umbrella?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
          ],
        },
      ],
      tools: [
        {
          type: "function",
          function: { name: "get_weather", description: "Weather by city", parameters: weatherTool },
        },
      ],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
    });
  });

  it("round trip: Messages → chat → Messages keeps text, tool calls and tool results", () => {
    const chat = messagesToChatRequest(messagesRequest, "claude-x");
    const back = chatToMessagesRequest(chat, "claude-x");
    expect(back.system).toBe("Be terse.");
    expect(back.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Oslo?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "tu_1", name: "get_weather", input: { city: "Oslo" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "tu_1", content: "4°C, rain" },
          { type: "text", text: "Umbrella?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
        ],
      },
    ]);
    expect(back.tools).toEqual([{ name: "get_weather", description: "Weather by city", input_schema: weatherTool }]);
  });

  it("answers: text and tool calls become blocks, finish reasons stop reasons, cached tokens cache reads", () => {
    const usage = openAiUsage({
      prompt_tokens: 100,
      completion_tokens: 7,
      prompt_tokens_details: { cached_tokens: 60 },
    });
    const answer = chatToMessagesResponse(
      {
        id: "chatcmpl-1",
        model: "gpt-x",
        choices: [
          {
            index: 0,
            finish_reason: "tool_calls",
            message: {
              role: "assistant",
              content: "Checking.",
              tool_calls: [
                { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
              ],
            },
          },
        ],
      },
      usage,
    );
    expect(answer).toEqual({
      id: "chatcmpl-1",
      type: "message",
      role: "assistant",
      model: "gpt-x",
      content: [
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Oslo" } },
      ],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: { input_tokens: 40, output_tokens: 7, cache_read_input_tokens: 60, cache_creation_input_tokens: 0 },
    });
    const stop = (finish: string) =>
      chatToMessagesResponse({ choices: [{ finish_reason: finish, message: { content: "x" } }] }, usage).stop_reason;
    expect(["stop", "length", "tool_calls", "content_filter"].map(stop)).toEqual([
      "end_turn",
      "max_tokens",
      "tool_use",
      "refusal",
    ]);
  });

  it("refuses what chat.completions cannot carry, naming the field", () => {
    const base = { model: "m", max_tokens: 10, messages: [{ role: "user", content: "hi" }] };
    expect(messagesUntranslatable({ ...base, thinking: { type: "enabled", budget_tokens: 1024 } })).toContain(
      "`thinking`",
    );
    expect(messagesUntranslatable({ ...base, thinking: { type: "disabled" } })).toBeUndefined();
    expect(messagesUntranslatable({ ...base, top_k: 5 })).toContain("`top_k`");
    expect(messagesUntranslatable({ ...base, tools: [{ type: "bash_20250124", name: "bash" }] })).toContain(
      "`tools[0].type`",
    );
    expect(
      messagesUntranslatable({
        ...base,
        messages: [{ role: "user", content: [{ type: "document", source: { type: "text", data: "x" } }] }],
      }),
    ).toContain("`messages[0].content[0].type`");
    expect(
      messagesUntranslatable({
        ...base,
        messages: [
          {
            role: "user",
            content: [
              {
                type: "tool_result",
                tool_use_id: "t",
                content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: "A" } }],
              },
            ],
          },
        ],
      }),
    ).toContain("`messages[0].content[0].content[0].type`");
  });

  it("errors: an OpenAI error body in Anthropic's shape, the type from the status", () => {
    expect(openAiErrorToAnthropic({ error: { message: "slow down", type: "rate_limit_error" } }, 429)).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: "slow down" },
    });
    expect(openAiErrorToAnthropic(undefined, 400).error.type).toBe("invalid_request_error");
  });
});

describe("OpenAI Responses → chat.completions (and on to Messages)", () => {
  const request: Json = {
    model: "gpt-x",
    instructions: "Be terse.",
    max_output_tokens: 200,
    tools: [
      { type: "function", name: "get_weather", description: "Weather by city", parameters: weatherTool, strict: true },
    ],
    tool_choice: "required",
    input: [
      { role: "user", content: [{ type: "input_text", text: "Weather in Oslo?" }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking." }] },
      { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Oslo"}' },
      { type: "function_call_output", call_id: "call_1", output: "4°C, rain" },
      { role: "user", content: [{ type: "input_image", image_url: "https://img.example/x.png", detail: "low" }] },
    ],
  };

  it("translates instructions, input items, function calls and outputs, tools", () => {
    expect(responsesUntranslatable(request, true)).toBeUndefined();
    expect(responsesToChatRequest(request, "gpt-y")).toEqual({
      model: "gpt-y",
      max_completion_tokens: 200,
      messages: [
        { role: "system", content: "Be terse." },
        { role: "user", content: "Weather in Oslo?" },
        {
          role: "assistant",
          content: "Checking.",
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "4°C, rain" },
        {
          role: "user",
          content: [{ type: "image_url", image_url: { url: "https://img.example/x.png", detail: "low" } }],
        },
      ],
      tools: [
        {
          type: "function",
          function: { name: "get_weather", description: "Weather by city", parameters: weatherTool, strict: true },
        },
      ],
      tool_choice: "required",
    });
  });

  it("on to Anthropic: the system prompt, tool_use and tool_result land where Messages wants them", () => {
    const messages = chatToMessagesRequest(responsesToChatRequest(request, "claude-x"), "claude-x");
    expect(messages).toMatchObject({
      model: "claude-x",
      max_tokens: 200,
      system: "Be terse.",
      tool_choice: { type: "any" },
      messages: [
        { role: "user", content: [{ type: "text", text: "Weather in Oslo?" }] },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Checking." },
            { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Oslo" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "call_1", content: "4°C, rain" },
            { type: "image", source: { type: "url", url: "https://img.example/x.png" } },
          ],
        },
      ],
    });
  });

  it("answers: output items, status from the stop reason, usage with cached tokens", () => {
    const usage: Usage = { input: 100, output: 9, cachedInput: 64, cacheCreationInput: 0 };
    const response = chatToResponse(
      {
        id: "chatcmpl-9",
        model: "gpt-x",
        choices: [
          {
            finish_reason: "tool_calls",
            message: {
              content: "Checking.",
              tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }],
            },
          },
        ],
      },
      usage,
      1_700_000_000,
    );
    expect(response).toMatchObject({
      id: "resp_9",
      object: "response",
      created_at: 1_700_000_000,
      status: "completed",
      model: "gpt-x",
      output: [
        {
          type: "message",
          role: "assistant",
          status: "completed",
          content: [{ type: "output_text", text: "Checking." }],
        },
        { type: "function_call", call_id: "call_1", name: "get_weather", arguments: "{}", status: "completed" },
      ],
      usage: {
        input_tokens: 100,
        input_tokens_details: { cached_tokens: 64 },
        output_tokens: 9,
        total_tokens: 109,
      },
    });
    const truncated = chatToResponse({ choices: [{ finish_reason: "length", message: { content: "x" } }] }, usage, 0);
    expect(truncated).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
  });

  it("an Anthropic answer reaches a Responses client through the chat pivot", () => {
    const usage: Usage = { input: 30, output: 5, cachedInput: 20, cacheCreationInput: 0 };
    const anthropic = {
      id: "msg_7",
      model: "claude-x",
      content: [{ type: "text", text: "Hello" }],
      stop_reason: "max_tokens",
      usage: { input_tokens: 10, cache_read_input_tokens: 20, output_tokens: 5 },
    };
    expect(clientAnswer("responses", "messages", anthropic, usage, 1_000_000)).toMatchObject({
      id: "resp_7",
      status: "incomplete",
      output: [{ type: "message", content: [{ type: "output_text", text: "Hello" }] }],
      usage: { input_tokens: 30, input_tokens_details: { cached_tokens: 20 } },
    });
    expect(messagesToChatResponse(anthropic, 0).choices[0].finish_reason).toBe("length");
  });

  it("refuses server-side state, built-in tools and file inputs, naming the field", () => {
    const base = { model: "m", input: "hi" };
    expect(responsesUntranslatable({ ...base, previous_response_id: "resp_1" }, false)).toContain(
      "`previous_response_id`",
    );
    expect(responsesUntranslatable({ ...base, conversation: "conv_1" }, false)).toContain("`conversation`");
    expect(
      responsesUntranslatable({ ...base, tools: [{ type: "file_search", vector_store_ids: [] }] }, false),
    ).toContain("`tools[0].type`");
    expect(
      responsesUntranslatable(
        { model: "m", input: [{ role: "user", content: [{ type: "input_file", file_id: "f" }] }] },
        false,
      ),
    ).toContain("`input[0].content[0]`");
    expect(responsesUntranslatable({ model: "m", input: [{ type: "item_reference", id: "msg_1" }] }, false)).toContain(
      "`input[0]`",
    );
    expect(
      responsesUntranslatable({ ...base, text: { format: { type: "json_schema", name: "x", schema: {} } } }, false),
    ).toBeUndefined();
    expect(
      responsesUntranslatable({ ...base, text: { format: { type: "json_schema", name: "x", schema: {} } } }, true),
    ).toContain("`text.format.type`");
    expect(responsesUntranslatable({ ...base, store: true, metadata: { a: "b" } }, true)).toBeUndefined();
  });
});

describe("which providers a request can go to", () => {
  const provider = (id: string, kind: PreparedProvider["kind"]) => ({ id, kind }) as PreparedProvider;
  const route = [provider("claude", "anthropic"), provider("gpt", "openai"), provider("vllm", "openai-compatible")];

  it("a request only some kinds can take goes to those; none → the reason, naming the provider", () => {
    const thinking = { model: "m", max_tokens: 10, thinking: { type: "enabled" }, messages: [] };
    expect(candidates("messages", thinking, route).providers.map((p) => p.id)).toEqual(["claude"]);
    const stateful = { model: "m", input: "x", previous_response_id: "resp_1" };
    expect(candidates("responses", stateful, route).providers.map((p) => p.id)).toEqual(["gpt"]);
    const none = candidates("responses", stateful, [route[0] as PreparedProvider]);
    expect(none.providers).toEqual([]);
    expect(none.refused).toContain('provider "claude" (anthropic)');
    expect(untranslatable("chat", "messages", { anything: true })).toBeUndefined();
  });
});

/** Parses a writer's SSE output into [event name, data] pairs. */
function events(text: string): [string | undefined, Json][] {
  return new SseParser().push(Buffer.from(text)).map((e) => [e.event, JSON.parse(e.data) as Json]);
}
const sse = (data: object) => ({ event: undefined, data: JSON.stringify(data) });

describe("stream translation", () => {
  const chatStream = [
    sse({ id: "chatcmpl-1", model: "gpt-x", choices: [{ index: 0, delta: { role: "assistant", content: "" } }] }),
    sse({ id: "chatcmpl-1", model: "gpt-x", choices: [{ index: 0, delta: { content: "Hel" } }] }),
    sse({ id: "chatcmpl-1", model: "gpt-x", choices: [{ index: 0, delta: { content: "lo" } }] }),
    sse({
      id: "chatcmpl-1",
      model: "gpt-x",
      choices: [
        {
          index: 0,
          delta: { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "" } }] },
        },
      ],
    }),
    sse({
      id: "chatcmpl-1",
      choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] } }],
    }),
    sse({ id: "chatcmpl-1", choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] }),
    sse({
      id: "chatcmpl-1",
      choices: [],
      usage: { prompt_tokens: 50, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 32 } },
    }),
    { event: undefined, data: "[DONE]" },
  ];

  it("a chat stream read as ops: text block, then the tool call block, stop, usage, done", () => {
    const reader = new ChatStreamReader();
    const ops = chatStream.flatMap((e) => reader.read(e));
    expect(ops.map((op) => op.kind)).toEqual([
      "start",
      "text",
      "text",
      "end",
      "tool",
      "args",
      "end",
      "stop",
      "usage",
      "done",
    ]);
    expect(ops.find((op) => op.kind === "stop")).toEqual({ kind: "stop", reason: "tool_use" });
  });

  it("written as Anthropic events: blocks in order, stop reason and whole usage in message_delta", () => {
    const reader = new ChatStreamReader();
    const writer = new MessagesStreamWriter();
    const out = events(
      chatStream
        .flatMap((e) => reader.read(e))
        .map((op) => writer.write(op))
        .join(""),
    );
    expect(out.map(([name]) => name)).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(out[5]?.[1]).toEqual({
      type: "content_block_start",
      index: 1,
      content_block: { type: "tool_use", id: "call_1", name: "f", input: {} },
    });
    expect(out[8]?.[1]).toEqual({
      type: "message_delta",
      delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { input_tokens: 18, output_tokens: 4, cache_read_input_tokens: 32, cache_creation_input_tokens: 0 },
    });
  });

  it("an Anthropic stream written as Responses events, numbered, the .done events holding the whole texts", () => {
    const reader = new MessagesStreamReader();
    const writer = new ResponsesStreamWriter(1_700_000_000);
    const upstream = [
      {
        type: "message_start",
        message: { id: "msg_1", model: "claude-x", usage: { input_tokens: 10, output_tokens: 1 } },
      },
      { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "hmm" } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Hi " } },
      { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "there" } },
      { type: "content_block_stop", index: 1 },
      { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 3 } },
      { type: "message_stop" },
    ].map((data) => ({ event: data.type, data: JSON.stringify(data) }));
    const ops: StreamOp[] = upstream.flatMap((e) => reader.read(e));
    const out = events(ops.map((op) => writer.write(op)).join(""));
    expect(out.map(([name]) => name)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(out.map(([, data]) => data.sequence_number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out[6]?.[1]).toMatchObject({ text: "Hi there", output_index: 0, content_index: 0 });
    expect(out[9]?.[1].response).toMatchObject({
      id: "resp_1",
      status: "completed",
      output: [{ type: "message", content: [{ type: "output_text", text: "Hi there" }] }],
      usage: { input_tokens: 10, output_tokens: 3, total_tokens: 13 },
    });
  });
});
