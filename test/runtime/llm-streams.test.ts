/**
 * The streaming relays on their own: a real HTTP response, upstream SSE delivered read by read, the
 * credential scanner on text and on tool-call arguments.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { createStreamingCredentialScanner } from "../../policies/guards/index.js";
import { relayAnthropicAsOpenAi, relayAnthropicNative } from "../../runtime/llm/stream/anthropic-relay.js";
import { relayOpenAiStream } from "../../runtime/llm/stream/openai-relay.js";
import type { RelayOptions, StreamOutcome } from "../../runtime/llm/stream/relay.js";

const KEY = ["sk", "proj", "Qw1Er2Ty3Ui4Op5As6Df7Gh8Jk9Lz0Xc"].join("-");
const newScanner = () => createStreamingCredentialScanner({ mode: "block", holdBackChars: 256 });

/**
 * Runs `relay` behind a real HTTP server; each entry of `reads` is delivered as one upstream read (raw
 * bytes, so a read can end inside a multi-byte character).
 */
async function run(
  relay: (o: RelayOptions) => Promise<StreamOutcome>,
  reads: readonly (string | Buffer)[],
  scanner = newScanner,
): Promise<{ text: string; outcome: StreamOutcome; writes: string[] }> {
  let outcome: StreamOutcome | undefined;
  /** The body as the relay handed it to the response, write by write (`end(chunk)` counts as one). */
  const writes: string[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    const write = res.write.bind(res) as (chunk: string | Uint8Array) => boolean;
    const end = res.end.bind(res) as (chunk?: string | Uint8Array) => typeof res;
    let corked = false;
    res.write = ((chunk: string | Uint8Array) => {
      // Parts written while the socket is corked leave in one socket write: they count as one.
      if (corked && writes.length > 0) writes[writes.length - 1] += Buffer.from(chunk).toString("utf8");
      else writes.push(Buffer.from(chunk).toString("utf8"));
      corked = (res.socket?.writableCorked ?? 0) > 0;
      return write(chunk);
    }) as typeof res.write;
    res.end = ((chunk?: string | Uint8Array) => {
      if (chunk !== undefined) writes.push(Buffer.from(chunk).toString("utf8"));
      return end(chunk);
    }) as typeof res.end;
    async function* body() {
      for (const read of reads) yield typeof read === "string" ? Buffer.from(read) : read;
    }
    void relay({ res, body: body(), newScanner: scanner, clientWantsUsage: false }).then((o) => {
      outcome = o;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const text = await response.text();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!outcome) throw new Error("relay did not finish");
  return { text, outcome, writes };
}

const pieces = (text: string, at: number[]) => [0, ...at].map((start, i) => text.slice(start, at[i] ?? text.length));
const openAiToolEvent = (args: string) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args } }] }, logprobs: null, finish_reason: null }] })}\n\n`;
const openAiStart = `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { role: "assistant", content: null, tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "save", arguments: "" } }] }, logprobs: null, finish_reason: null }] })}\n\n`;
const openAiEnd = `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "tool_calls" }] })}\n\ndata: [DONE]\n\n`;

function openAiArgs(text: string): string {
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: {"))
    .map(
      (e) =>
        JSON.parse(e.slice(6)) as { choices?: { delta?: { tool_calls?: { function?: { arguments?: string } }[] } }[] },
    )
    .map((c) => c.choices?.[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? "")
    .join("");
}

describe("streamed tool-call arguments", () => {
  it("blocks a key split across three tool-call argument deltas (OpenAI), releasing none of it", async () => {
    const args = JSON.stringify({ note: `deploy with ${KEY} today` });
    const at = args.indexOf(KEY);
    const reads = [openAiStart, ...pieces(args, [at + 6, at + 19]).map(openAiToolEvent), openAiEnd];
    const { text, outcome } = await run(relayOpenAiStream, reads);
    expect(outcome.blocked?.guard).toBe("credential-leak");
    expect(text).toContain("guard: credential-leak");
    expect(text).not.toContain(KEY.slice(0, 8));
  });

  it("passes clean tool-call arguments through, reassembling to the same JSON", async () => {
    const args = JSON.stringify({ city: "Oslo", days: 3, note: "bring an umbrella" });
    const { text, outcome } = await run(relayOpenAiStream, [
      openAiStart,
      ...pieces(args, [5, 17, 30]).map(openAiToolEvent),
      openAiEnd,
    ]);
    expect(outcome.blocked).toBeUndefined();
    expect(openAiArgs(text)).toBe(args);
    expect(text).toContain("[DONE]");
  });

  const anthropicEvents = (args: string, at: number[]) => [
    `event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { id: "msg", model: "claude", usage: { input_tokens: 5, output_tokens: 1 } } })}\n\n`,
    `event: content_block_start\ndata: ${JSON.stringify({ type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "tu", name: "save", input: {} } })}\n\n`,
    ...pieces(args, at).map(
      (p) =>
        `event: content_block_delta\ndata: ${JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: p } })}\n\n`,
    ),
    `event: content_block_stop\ndata: ${JSON.stringify({ type: "content_block_stop", index: 0 })}\n\n`,
    `event: message_delta\ndata: ${JSON.stringify({ type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } })}\n\n`,
    `event: message_stop\ndata: ${JSON.stringify({ type: "message_stop" })}\n\n`,
  ];

  it("blocks a key split across input_json_delta events on the native Anthropic stream", async () => {
    const args = JSON.stringify({ note: `key ${KEY}` });
    const at = args.indexOf(KEY);
    const { text, outcome } = await run(relayAnthropicNative, anthropicEvents(args, [at + 4, at + 15]));
    expect(outcome.blocked?.guard).toBe("credential-leak");
    expect(text).toContain("event: error");
    expect(text).not.toContain(KEY.slice(0, 8));
  });

  it("blocks it too when the Anthropic stream is translated to chat.completion chunks", async () => {
    const args = JSON.stringify({ note: `key ${KEY}` });
    const at = args.indexOf(KEY);
    const { text, outcome } = await run(relayAnthropicAsOpenAi, anthropicEvents(args, [at + 4, at + 15]));
    expect(outcome.blocked?.guard).toBe("credential-leak");
    expect(text).not.toContain(KEY.slice(0, 8));
  });

  it("translates clean Anthropic tool input into tool_calls arguments unchanged", async () => {
    const args = JSON.stringify({ city: "Oslo" });
    const { text, outcome } = await run(relayAnthropicAsOpenAi, anthropicEvents(args, [3, 9]));
    expect(outcome.blocked).toBeUndefined();
    expect(openAiArgs(text)).toBe(args);
    expect(outcome.usage).toEqual({ input: 5, output: 9, cachedInput: 0, cacheCreationInput: 0 });
  });
});

describe("streamed text (OpenAI chunks)", () => {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  const start = chunk({ role: "assistant", content: "" });
  const end = `${chunk({}, "stop")}data: [DONE]\n\n`;
  const contentOf = (text: string) =>
    text
      .split("\n\n")
      .filter((e) => e.startsWith("data: {"))
      .map(
        (e) =>
          (JSON.parse(e.slice(6)) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ??
          "",
      )
      .join("");

  it.each([
    [
      "two events in one read",
      (t: string, at: number) => [
        start +
          pieces(t, [at + 9])
            .map((p) => chunk({ content: p }))
            .join("") +
          end,
      ],
    ],
    [
      "three events in separate reads",
      (t: string, at: number) => [start, ...pieces(t, [at + 5, at + 17]).map((p) => chunk({ content: p })), end],
    ],
    [
      "three events, one character of the key per read at the seams",
      (t: string, at: number) => [start, ...pieces(t, [at + 1, at + 2]).map((p) => chunk({ content: p })), end],
    ],
  ])("blocks a key split across %s, releasing none of it", async (_name, build) => {
    const text = `Here it is: ${KEY} - keep it safe.`;
    const { text: sent, outcome } = await run(relayOpenAiStream, build(text, text.indexOf(KEY)));
    expect(outcome.blocked?.guard).toBe("credential-leak");
    expect(sent).toContain("guard: credential-leak");
    expect(sent).not.toContain(KEY.slice(0, 8));
    expect("Here it is: ".startsWith(contentOf(sent))).toBe(true);
  });

  it("masks a split key in mask mode and passes the rest of the text unchanged", async () => {
    const text = `Here it is: ${KEY} - keep it safe.`;
    const at = text.indexOf(KEY);
    const reads = [start, ...pieces(text, [at + 5, at + 17]).map((p) => chunk({ content: p })), end];
    const { text: sent, outcome } = await run(relayOpenAiStream, reads, () =>
      createStreamingCredentialScanner({ mode: "mask", holdBackChars: 256 }),
    );
    expect(outcome.blocked).toBeUndefined();
    expect(sent).not.toContain(KEY.slice(0, 8));
    const content = contentOf(sent);
    expect(content.startsWith("Here it is: ")).toBe(true);
    expect(content.endsWith(" - keep it safe.")).toBe(true);
    expect(outcome.redactions).toBeDefined();
  });

  it("sends the upstream's own events byte for byte when each read ends between words", async () => {
    const reads = [
      start,
      chunk({ content: "Ticket 4411 " }) + chunk({ content: "is waiting " }),
      chunk({ content: "for the reply.\n" }),
      end,
    ];
    const { text: sent, outcome } = await run(relayOpenAiStream, reads);
    expect(outcome.blocked).toBeUndefined();
    expect(sent).toBe(reads.join(""));
  });

  it("sends the upstream's own events byte for byte when a read ends mid-word or mid-event", async () => {
    const text = "Draft a short, friendly follow-up asking whether the proposed workaround solved it.";
    const events =
      start +
      pieces(text, [3, 9, 13, 21, 30, 44, 52, 66, 70])
        .map((p) => chunk({ content: p }))
        .join("") +
      end;
    // Reads cut at arbitrary bytes: inside events, inside words, and the whole stream in one read.
    for (const cuts of [[], [200, 420, 777], [start.length + 5, start.length + 250, events.length - 30]]) {
      const reads = pieces(events, cuts);
      const { text: sent, outcome } = await run(relayOpenAiStream, reads);
      expect(outcome.blocked).toBeUndefined();
      expect(sent).toBe(events);
    }
  });

  it("sends the first event at once when a read holds the whole reply, not after the rest of the read", async () => {
    const text = "Draft a short, friendly follow-up asking whether the proposed workaround solved it.";
    const events =
      start +
      pieces(text, [3, 9, 13, 21, 30, 44, 52, 66, 70])
        .map((p) => chunk({ content: p }))
        .join("") +
      end;
    const { text: sent, outcome, writes } = await run(relayOpenAiStream, [events]);
    expect(outcome.blocked).toBeUndefined();
    expect(sent).toBe(events);
    expect(writes[0]).toBe(start);
    // The rest of the read still leaves together: one more write, not one per event.
    expect(writes.slice(1).filter((w) => w.length > 0)).toEqual([events.slice(start.length)]);
  });

  it("hands the first event to the socket before it goes on with the rest of the read (no cork until the next tick)", async () => {
    const events =
      start +
      pieces("A reply that arrives in one read, whole.", [8, 20])
        .map((p) => chunk({ content: p }))
        .join("") +
      end;
    // The first content event creates the text's scanner: the relay has sent `start` and moved on by then.
    let socketWhenMovingOn: { corked: number; buffered: number } | undefined;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const scanner = () => {
        socketWhenMovingOn ??= { corked: res.socket?.writableCorked ?? -1, buffered: res.socket?.writableLength ?? -1 };
        return newScanner();
      };
      async function* body() {
        yield Buffer.from(events);
      }
      void relayOpenAiStream({ res, body: body(), newScanner: scanner, clientWantsUsage: false }).then(() => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const sent = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).text();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(sent).toBe(events);
    // A response write left to Node corks the socket until the next tick: the client would get `start` only
    // after the whole read was scanned.
    expect(socketWhenMovingOn).toEqual({ corked: 0, buffered: 0 });
  });

  it("sends the reads of one tick in one socket write after the first event (undici may split one upstream read into chunks)", async () => {
    const reads = [start, ...["Several ", "chunks ", "of one ", "read."].map((p) => chunk({ content: p })), end];
    /** Each call of the socket's own _write/_writev is one write to the kernel. */
    const socketWrites: number[] = [];
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const socket = res.socket as unknown as {
        _write: (...args: unknown[]) => void;
        _writev: (chunks: unknown[], ...rest: unknown[]) => void;
      };
      const write = socket._write.bind(socket);
      const writev = socket._writev.bind(socket);
      socket._write = (...args) => void (socketWrites.push(1), write(...args));
      socket._writev = (chunks, ...rest) => void (socketWrites.push(chunks.length), writev(chunks, ...rest));
      // Every read arrives in the same tick, as the chunks of one socket read do.
      async function* body() {
        for (const read of reads) yield Buffer.from(read);
      }
      void relayOpenAiStream({ res, body: body(), newScanner, clientWantsUsage: false }).then(() => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const sent = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).text();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(sent).toBe(reads.join(""));
    // The status line and first event at once, then everything else together (a write per flush: 5).
    expect(socketWrites).toHaveLength(2);
  });

  it("forwards non-ASCII streams byte for byte, reads cut inside a multi-byte character included", async () => {
    const text = "Caf\u00e9 au lait \u2615 costs 3\u20ac, na\u00efve r\u00e9sum\u00e9 \u{1F600} done.";
    const events =
      start +
      pieces(text, [2, 5, 9, 14, 20, 27, 33, 41])
        .map((p) => chunk({ content: p }))
        .join("") +
      end;
    const bytes = Buffer.from(events);
    const euro = bytes.indexOf(Buffer.from("\u20ac"));
    for (const cuts of [[], [euro + 1], [euro + 2, bytes.length - 40]]) {
      const reads = pieces(bytes.toString("latin1"), cuts).map((r) => Buffer.from(r, "latin1"));
      const { text: sent, outcome } = await run(relayOpenAiStream, reads);
      expect(outcome.blocked).toBeUndefined();
      expect(sent).toBe(events);
    }
  });

  it("delivers the events up to [DONE] while the upstream still holds its body open", async () => {
    let sawDone!: () => void;
    const clientSawDone = new Promise<void>((resolve) => (sawDone = resolve));
    const events = start + chunk({ content: "All done here." }) + end;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      async function* body() {
        yield Buffer.from(events);
        // The upstream ends its body only once the client has every event: the relay must not wait for the end.
        await clientSawDone;
      }
      void relayOpenAiStream({ res, body: body(), newScanner, clientWantsUsage: false });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let received = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      received += decoder.decode(value, { stream: true });
      if (received.includes("[DONE]")) sawDone();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(received).toBe(events);
  });

  it("passes text cut mid-word, escapes and non-ASCII through with the same content", async () => {
    const text =
      'She said "ok" \\ then:\n\ttabbed, caf\u00e9 \u{1F600} and a very-long-hyphenated-word-that-keeps-going done';
    const cuts = [3, 11, 12, 20, 33, 41, 60, 75];
    const { text: sent, outcome } = await run(relayOpenAiStream, [
      start,
      ...pieces(text, cuts).map((p) => chunk({ content: p })),
      end,
    ]);
    expect(outcome.blocked).toBeUndefined();
    expect(contentOf(sent)).toBe(text);
    expect(sent.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  it("scans content that arrives next to a role or a finish reason, in stream order", async () => {
    const reads = [
      chunk({ role: "assistant", content: "Hello " }),
      chunk({ content: "there, " }),
      chunk({ content: `${KEY.slice(0, 10)}` }),
      chunk({ content: KEY.slice(10) }, "stop"),
      "data: [DONE]\n\n",
    ];
    const { text: sent, outcome } = await run(relayOpenAiStream, reads);
    expect(outcome.blocked?.guard).toBe("credential-leak");
    expect(sent).not.toContain(KEY.slice(0, 8));
    expect(contentOf(sent)).toBe("Hello there, ");
    expect(sent.indexOf('"role":"assistant"')).toBeLessThan(sent.indexOf("Hello"));
  });
});
