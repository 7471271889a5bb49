/**
 * The history memory of chat requests (runtime/llm/history/): whatever it remembers, a request reads as the
 * full `JSON.parse` of its bytes would read, with only the messages it has not seen left to guard. Bodies are
 * generated from a seeded PRNG and mutated the ways clients and attackers do: append, edit a message in the
 * middle (same length too), trim, change settings, reformat, repeat or escape keys, break the JSON.
 */
import { describe, expect, it } from "vitest";
import { createRandom, type Random } from "../../bench/workload/agent.js";
import { scanArrayTail, scanMessagesLayout } from "../../runtime/llm/history/json-scan.js";
import { type GuardedMessage, RequestHistory } from "../../runtime/llm/history/request-history.js";

const LIMITS = { perPrincipal: 4, maxBytes: 64 * 1024 * 1024 };

type Message = { role: string; content: string; tool_calls?: unknown[] };

/** A stand-in guard that rewrites: e-mail `@` masked, so a remembered rewrite differs from the client's bytes. */
const guardMessage = (message: unknown): unknown =>
  message && typeof message === "object" && typeof (message as Message).content === "string"
    ? { ...(message as Message), content: (message as Message).content.replaceAll("@", "[at]") }
    : message;

/** What the request path does with a read body: guards the messages the memory did not know, remembers it. */
function readAndRemember(history: RequestHistory, principal: string, raw: Buffer) {
  const read = history.read(principal, raw);
  if (!read) return undefined;
  const { body } = read;
  if (Array.isArray(body.json.messages)) {
    const messages = body.json.messages as unknown[];
    const guarded: GuardedMessage[] = [...body.known];
    for (let i = body.known.length; i < messages.length; i++) {
      messages[i] = guardMessage(messages[i]);
      guarded.push({
        value: messages[i],
        bytes: Buffer.from(JSON.stringify(messages[i])),
        redactions: undefined,
        flagged: [],
      });
    }
    history.remember(principal, body, guarded);
  }
  return read;
}

/** The body as the full parse and a guard over every message make it. */
function expected(raw: Buffer): unknown {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch {
    return undefined;
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) return undefined;
  const body = json as Record<string, unknown>;
  return Array.isArray(body.messages) ? { ...body, messages: body.messages.map(guardMessage) } : body;
}

const words = [
  "invoice",
  "ship",
  "ärger",
  "naïve",
  'quote "x"',
  "back\\slash",
  "tab\there",
  "line\nbreak",
  "😀",
  "]",
  "}",
  ",",
];
function text(random: Random): string {
  const out: string[] = [];
  for (let i = random.int(1, 12); i > 0; i--) out.push(random.pick(words));
  if (random.chance(0.2)) out.push("mail jane@example.com");
  return out.join(" ");
}
function message(random: Random): Message {
  const role = random.pick(["user", "assistant", "tool"]);
  return role === "assistant" && random.chance(0.3)
    ? {
        role,
        content: text(random),
        tool_calls: [{ id: "c1", function: { name: "f", arguments: '{"a":[1,{"b":"}"}]}' } }],
      }
    : { role, content: text(random) };
}

/** Serializes `members` in order, compact or pretty, as different clients do. */
function serialize(members: [string, unknown][], random: Random): string {
  const space = random.chance(0.3) ? 2 : undefined;
  const inner = members.map(([k, v]) => `${JSON.stringify(k)}:${space ? " " : ""}${JSON.stringify(v, null, space)}`);
  return space ? `{\n  ${inner.join(",\n  ")}\n}\n` : `{${inner.join(",")}}`;
}

/** One client's next body from its conversation, sometimes bent out of shape. */
function nextBody(random: Random, conversation: Message[]): string {
  const roll = random.next();
  if (roll < 0.5 || conversation.length < 3) conversation.push(message(random), message(random));
  else if (roll < 0.65) {
    const at = random.int(1, conversation.length - 1);
    const old = conversation[at] as Message;
    // Same length, same ends: only the middle changes.
    const middle = Math.floor(old.content.length / 2);
    conversation[at] = { ...old, content: `${old.content.slice(0, middle)}X${old.content.slice(middle + 1)}` };
  } else if (roll < 0.75) conversation.splice(random.int(1, conversation.length - 1));
  else conversation.push(message(random));
  const members: [string, unknown][] = [["model", "gpt-4o-mini"]];
  if (random.chance(0.2)) members.unshift(["temperature", random.int(0, 2)]);
  members.push(["messages", conversation]);
  if (random.chance(0.7)) members.push(["tools", [{ type: "function", function: { name: "f", parameters: {} } }]]);
  if (random.chance(0.3)) members.push(["stream", random.chance(0.5)]);
  let body = serialize(members, random);
  const bend = random.next();
  if (bend < 0.04)
    body = body.replace(/\}\s*$/, ',"messages":[{"role":"user","content":"to x@y.example"}]}'); // the last counts
  else if (bend < 0.07)
    body = body.replace(/\}\s*$/, ',"model":"other"}'); // a head key again
  else if (bend < 0.1) body = body.replace('"messages"', '"messag\\u0065s"');
  else if (bend < 0.13)
    body = body.replace(/\]\s*(,|\})/, "],$1"); // a trailing comma after the array
  else if (bend < 0.16) body = `${body} trailing`;
  else if (bend < 0.19)
    body = body.replace(/\}\s*\]/, "},]"); // a trailing comma inside the array
  else if (bend < 0.21) body = body.replace(/\}\s*$/, "\u00a0}"); // whitespace JSON does not allow
  return body;
}

describe("chat request history", () => {
  it("reads every body as the full parse and guard would, over 4,000 seeded requests of 6 clients", () => {
    const random = createRandom(22);
    const history = new RequestHistory(LIMITS);
    const conversations = Array.from({ length: 6 }, () => [{ role: "system", content: "You help with invoices." }]);
    let extended = 0;
    let knownMessages = 0;
    for (let i = 0; i < 4000; i++) {
      const client = random.int(0, 5);
      const raw = Buffer.from(nextBody(random, conversations[client] as Message[]));
      const read = readAndRemember(history, `client-${client}`, raw);
      expect(read?.body.json, raw.toString()).toEqual(expected(raw));
      if (read?.body.extends) extended++;
      knownMessages += read?.body.known.length ?? 0;
    }
    // The memory did its job: most requests extended a remembered one, with most of their messages known.
    expect(extended).toBeGreaterThan(2000);
    expect(knownMessages).toBeGreaterThan(20_000);
  });

  it("matches an edited history up to the first changed message, and guards from there", () => {
    const history = new RequestHistory(LIMITS);
    const messages = ["one", "two", "three", "four"].map((content) => ({ role: "user", content }));
    readAndRemember(history, "p", Buffer.from(JSON.stringify({ model: "m", messages })));
    const edited = [
      ...messages.slice(0, 2),
      { role: "user", content: "tree" },
      messages[3],
      { role: "user", content: "five" },
    ];
    const read = history.read("p", Buffer.from(JSON.stringify({ model: "m", messages: edited })));
    expect(read?.body.known.map((m) => (m.value as Message).content)).toEqual(["one", "two"]);
    expect(read?.body.json.messages).toEqual(edited);
  });

  it("never matches one principal's body against another's history", () => {
    const history = new RequestHistory(LIMITS);
    const raw = Buffer.from(JSON.stringify({ model: "m", messages: [{ role: "user", content: "mail a@b.example" }] }));
    readAndRemember(history, "alice", raw);
    expect(history.read("alice", raw)?.body.known).toHaveLength(1);
    expect(history.read("mallory", raw)?.body.known).toHaveLength(0);
  });

  it("stays within its byte bound and its per-principal bound", () => {
    const history = new RequestHistory({ perPrincipal: 2, maxBytes: 600_000 });
    const content = "x".repeat(5_000);
    for (let i = 0; i < 100; i++) {
      const raw = Buffer.from(JSON.stringify({ model: "m", messages: [{ role: "user", content: `${i} ${content}` }] }));
      readAndRemember(history, `p${i % 10}`, raw);
      expect(history.heldBytes).toBeLessThanOrEqual(600_000);
    }
    expect(history.heldBytes).toBeGreaterThan(0);
  });
});

describe("chat body scan", () => {
  it("finds where each message ends and where the array closes, strings with brackets and escapes included", () => {
    const messages = [{ content: 'a "quoted" ] } \\' }, [1, [2]], 'x\\"]', 3.5e2, null];
    const raw = Buffer.from(
      ` { "model" : "m" , "messages" : [ ${messages.map((m) => JSON.stringify(m)).join(" , ")} ] , "n" : 1 } `,
    );
    const layout = scanMessagesLayout(raw);
    expect(layout?.ends).toHaveLength(messages.length);
    const text = raw.toString();
    expect(text[layout?.close as number]).toBe("]");
    const starts = [text.indexOf("[", text.indexOf('"messages"')) + 1, ...(layout?.ends.slice(0, -1) ?? [])];
    const elements = starts.map((start, k) => JSON.parse(text.slice(start, layout?.ends[k]).replace(/^\s*,/, "")));
    expect(elements).toEqual(messages);
    expect(scanArrayTail(raw, layout?.ends[1] as number)?.ends).toEqual(layout?.ends.slice(2));
  });

  it("leaves repeated, escaped and missing keys to the full parse", () => {
    for (const body of [
      '{"messages":[{}],"messages":[{}]}',
      '{"model":"a","model":"b","messages":[{}]}',
      '{"messag\\u0065s":[{}]}',
      '{"model":"m"}',
      '{"messages":[]}',
      '{"messages":{}}',
      '["messages"]',
    ])
      expect(scanMessagesLayout(Buffer.from(body)), body).toBeUndefined();
  });
});
