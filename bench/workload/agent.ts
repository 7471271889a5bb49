/**
 * A seeded generator of agent-like traffic, for the benchmarks and for micro-benchmarks of the guards.
 *
 * Each user runs one conversation at a time with a support agent: a system prompt and tool definitions,
 * then turn by turn a user message, sometimes one or more tool calls (an assistant message with
 * `tool_calls` and JSON arguments, then the tool's JSON result), and the assistant's answer. Every request
 * resends the whole history, as agents do, so bodies grow from `minBodyBytes` until the next turn would
 * pass `maxBodyBytes`; then that user starts a new conversation. Users take turns at random, so requests
 * of many conversations interleave. A fraction of the new messages carry PII (e-mail addresses, phone
 * numbers, Luhn-valid card numbers); everything else is written to hold none of the patterns a guard
 * looks for, so the fraction is what the guards see.
 *
 * Deterministic: the same options give the same requests, byte for byte (a small PRNG, never Math.random).
 *
 * ```ts
 * const workload = createAgentWorkload({ seed: 1, users: 32, piiFraction: 0.2 });
 * const { user, body, stream } = workload.next(); // body: an OpenAI chat completions request
 * ```
 */

/** mulberry32: small, fast, and good enough to vary text; not for anything secret. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (probability) => next() < probability,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
  };
}

/** A 32-bit seed from any string (FNV-1a), e.g. a tool call's arguments. */
export function seedOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

export interface ToolCall {
  readonly id: string;
  readonly type: "function";
  readonly function: { readonly name: string; readonly arguments: string };
}

/** The OpenAI chat messages an agent sends. */
export type AgentMessage =
  | { readonly role: "system"; readonly content: string }
  | { readonly role: "user"; readonly content: string }
  | { readonly role: "assistant"; readonly content: string }
  | { readonly role: "assistant"; readonly content: null; readonly tool_calls: readonly ToolCall[] }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly content: string };

export interface AgentWorkloadOptions {
  readonly seed: number;
  /**
   * Distinct users, each with a conversation of its own (and, in the benchmarks, a token of its own).
   * @default 32
   */
  readonly users?: number;
  /**
   * Fraction of the new messages (user, assistant, tool call arguments, tool results) that carry PII.
   * @default 0.2
   */
  readonly piiFraction?: number;
  /**
   * Fraction of the requests that ask for a streamed answer.
   * @default 0
   */
  readonly streamFraction?: number;
  /** @default 4096 */
  readonly minBodyBytes?: number;
  /** @default 65536 */
  readonly maxBodyBytes?: number;
  /** @default "gpt-4o-mini" */
  readonly model?: string;
}

export interface AgentRequest {
  /** Which user sends it, in [0, users). */
  readonly user: number;
  /** Serial number of the conversation across all users. */
  readonly conversation: number;
  /** Index of this request within its conversation, from 0. */
  readonly turn: number;
  readonly stream: boolean;
  readonly messages: readonly AgentMessage[];
  /** How many messages at the end of `messages` this request adds to the conversation. */
  readonly newMessages: number;
  /** For each of those new messages, whether it carries PII. */
  readonly newPii: readonly boolean[];
  /** The request body (OpenAI chat completions), JSON. */
  readonly body: string;
  /** Byte length of `body` (UTF-8; the text is ASCII). */
  readonly bytes: number;
}

export interface AgentWorkload extends Iterable<AgentRequest> {
  /** The next request of the interleaved sequence. */
  next(): AgentRequest;
  /** The next `count` requests. */
  take(count: number): AgentRequest[];
}

const WORDS = (
  "account access adjust agreement alert amount analysis answer approve archive backlog balance batch " +
  "billing branch budget bundle calendar cancel capacity catalog change channel checkout claim client " +
  "cluster comment confirm contract copy credit customer dashboard deadline delivery deploy detail " +
  "discount draft due estimate export feature feedback field filter follow forecast form group handle " +
  "history import incident invoice issue item label latency ledger license limit list migrate milestone " +
  "monthly note notice onboarding order outage owner package page partner payment pending plan policy " +
  "priority project quarter queue quote rate receipt record refund region release reminder renewal " +
  "report request review rollout schedule seat segment service shipment status subscription summary " +
  "supplier support team ticket timeline total tracking transfer trial update upgrade usage vendor " +
  "version warehouse weekly workflow workspace"
).split(" ");
const VERBS = "check review update confirm prepare send compare explain summarize schedule escalate close".split(" ");
const FIRST = "ana ben chloe david emma felix grace hugo iris jonas kara liam maya noah olga paul rosa sami".split(" ");
const LAST = "alvarez becker chen dubois evans fischer garcia hansen ito jensen kowalski larsen moreau novak".split(
  " ",
);
const DOMAINS = ["example.com", "acme-corp.example", "mail.example.org", "contoso.example"];
const STATUSES = ["open", "pending", "resolved", "waiting on customer", "escalated", "closed"];

/** The tools every conversation declares and calls. */
export const AGENT_TOOLS = [
  { name: "search_tickets", description: "Search support tickets by text, status and customer." },
  { name: "get_customer", description: "Fetch a customer's profile, plan and contacts." },
  { name: "get_order", description: "Fetch an order with its items, shipments and payments." },
  { name: "list_invoices", description: "List a customer's invoices in a date range." },
] as const;

const TOOL_DEFINITIONS = AGENT_TOOLS.map((tool) => ({
  type: "function",
  function: {
    name: tool.name,
    description: tool.description,
    parameters: {
      type: "object",
      properties: {
        query: { type: "string", description: "Free text to match." },
        customer_id: { type: "string", description: "Customer identifier, e.g. C-10482." },
        status: { type: "string", enum: STATUSES },
        limit: { type: "integer", minimum: 1, maximum: 50 },
      },
      additionalProperties: false,
    },
  },
}));

function sentence(random: Random): string {
  const words: string[] = [];
  const length = random.int(7, 16);
  for (let i = 0; i < length; i++) {
    if (i === 2 && random.chance(0.3)) words.push(`#${random.int(1000, 99999)}`);
    else if (i === 1) words.push(random.pick(VERBS));
    else words.push(random.pick(WORDS));
  }
  const text = words.join(" ");
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${random.chance(0.2) ? "?" : "."}`;
}

/** Prose of about `bytes` characters. */
export function prose(random: Random, bytes: number): string {
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const next = sentence(random);
    parts.push(next);
    length += next.length + 1;
  }
  return parts.join(" ");
}

const digits = (random: Random, count: number) => Array.from({ length: count }, () => random.int(0, 9)).join("");

/** A card-like number that passes the Luhn check (what a PII guard must catch), grouped as people write it. */
function cardNumber(random: Random): string {
  const body = `4${digits(random, 14)}`;
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  const full = `${body}${(10 - (sum % 10)) % 10}`;
  const separator = random.pick([" ", "-", ""]);
  return full.match(/\d{4}/g)?.join(separator) ?? full;
}

/** One piece of PII: an e-mail address, a phone number or a card number. */
export function piiItem(random: Random): string {
  switch (random.int(0, 2)) {
    case 0:
      return `${random.pick(FIRST)}.${random.pick(LAST)}${random.int(1, 99)}@${random.pick(DOMAINS)}`;
    case 1:
      return random.chance(0.5)
        ? `(${random.int(201, 989)}) 555-${digits(random, 4)}`
        : `+44 20 ${random.int(7000, 7999)} ${digits(random, 4)}`;
    default:
      return cardNumber(random);
  }
}

/** Prose of about `bytes` characters, with one or two PII items inside when `pii`. */
function message(random: Random, bytes: number, pii: boolean): string {
  const text = prose(random, bytes);
  if (!pii) return text;
  const items = Array.from({ length: random.int(1, 2) }, () => piiItem(random));
  const cut = text.indexOf(". ", Math.floor(text.length / 3));
  const at = cut < 0 ? text.length : cut + 1;
  return `${text.slice(0, at)} Contact: ${items.join(", ")}.${text.slice(at)}`;
}

export interface ToolResultOptions {
  /** Fraction of results that carry PII. @default 0.2 */
  readonly piiFraction?: number;
  /** @default 1024 */
  readonly minBytes?: number;
  /** @default 8192 */
  readonly maxBytes?: number;
}

/** A tool's JSON result (records with notes), deterministic for a seed; used by the LLM and MCP workloads. */
export function toolResult(seed: number, options: ToolResultOptions = {}): { text: string; pii: boolean } {
  const random = createRandom(seed);
  const pii = random.chance(options.piiFraction ?? 0.2);
  const target = random.int(options.minBytes ?? 1024, options.maxBytes ?? 8192);
  const records: Record<string, unknown>[] = [];
  let length = 40;
  const piiAt = pii ? random.int(0, 3) : -1;
  while (length < target || records.length <= piiAt) {
    const record: Record<string, unknown> = {
      id: `T-${random.int(10000, 99999)}`,
      customer_id: `C-${random.int(10000, 99999)}`,
      status: random.pick(STATUSES),
      updated: `2026-${String(random.int(1, 11)).padStart(2, "0")}-${String(random.int(1, 28)).padStart(2, "0")}`,
      amount: `${random.int(5, 4000)}.${String(random.int(0, 99)).padStart(2, "0")}`,
      note:
        records.length === piiAt ? message(random, random.int(120, 400), true) : prose(random, random.int(120, 400)),
    };
    records.push(record);
    length += JSON.stringify(record).length + 1;
  }
  return { text: JSON.stringify({ total: records.length, records }), pii };
}

function systemPrompt(random: Random, bytes: number): string {
  return `You are the support agent of a software company. Use the tools to look things up before you answer. ${prose(random, bytes)}`;
}

interface Conversation {
  readonly id: number;
  readonly messages: AgentMessage[];
  turn: number;
  /** Set when the model's next reply is a tool call rather than an answer. */
  toolRoundsLeft: number;
}

/** Creates the generator; see the module comment. */
export function createAgentWorkload(options: AgentWorkloadOptions): AgentWorkload {
  const users = options.users ?? 32;
  const piiFraction = options.piiFraction ?? 0.2;
  const streamFraction = options.streamFraction ?? 0;
  const minBodyBytes = options.minBodyBytes ?? 4096;
  const maxBodyBytes = options.maxBodyBytes ?? 65536;
  const model = options.model ?? "gpt-4o-mini";
  if (!Number.isInteger(users) || users < 1) throw new Error(`users: expected an integer >= 1, got ${users}`);
  for (const [name, value] of [
    ["piiFraction", piiFraction],
    ["streamFraction", streamFraction],
  ] as const)
    if (!(value >= 0 && value <= 1)) throw new Error(`${name}: expected a fraction in [0, 1], got ${value}`);
  if (!(minBodyBytes >= 2048 && maxBodyBytes >= minBodyBytes * 2))
    throw new Error(
      `minBodyBytes/maxBodyBytes: expected minBodyBytes >= 2048 and maxBodyBytes >= 2 x minBodyBytes, got ${minBodyBytes}/${maxBodyBytes}`,
    );

  const random = createRandom(options.seed);
  // A handful of agents' system prompts, shared by the conversations of different users, as deployed agents do.
  const prompts = Array.from({ length: 4 }, () => systemPrompt(random, Math.floor(minBodyBytes * 0.6)));
  const conversations: (Conversation | undefined)[] = Array.from({ length: users }, () => undefined);
  let conversationSerial = 0;
  let callSerial = 0;

  const serialize = (messages: readonly AgentMessage[], stream: boolean) =>
    JSON.stringify({
      model,
      messages,
      tools: TOOL_DEFINITIONS,
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    });

  const start = (): Conversation => {
    const messages: AgentMessage[] = [{ role: "system", content: random.pick(prompts) }];
    return { id: conversationSerial++, messages, turn: 0, toolRoundsLeft: 0 };
  };

  /** The messages the next request of `conversation` adds, and which of them carry PII. */
  const nextMessages = (conversation: Conversation): { added: AgentMessage[]; pii: boolean[] } => {
    const added: AgentMessage[] = [];
    const pii: boolean[] = [];
    const add = (m: AgentMessage, hasPii: boolean) => {
      added.push(m);
      pii.push(hasPii);
    };
    if (conversation.toolRoundsLeft > 0) {
      conversation.toolRoundsLeft--;
      const tool = random.pick(AGENT_TOOLS);
      const argsPii = random.chance(piiFraction);
      const args = {
        query: argsPii ? `${random.pick(WORDS)} ${piiItem(random)}` : `${random.pick(WORDS)} ${random.pick(WORDS)}`,
        customer_id: `C-${random.int(10000, 99999)}`,
        status: random.pick(STATUSES),
        limit: random.int(5, 25),
      };
      const id = `call_${(callSerial++).toString(36).padStart(6, "0")}`;
      const call: ToolCall = { id, type: "function", function: { name: tool.name, arguments: JSON.stringify(args) } };
      add({ role: "assistant", content: null, tool_calls: [call] }, argsPii);
      const result = toolResult(random.int(0, 2 ** 31), { piiFraction });
      add({ role: "tool", tool_call_id: id, content: result.text }, result.pii);
      return { added, pii };
    }
    if (conversation.turn > 0) {
      const answerPii = random.chance(piiFraction);
      add({ role: "assistant", content: message(random, random.int(200, 1500), answerPii) }, answerPii);
    }
    const userPii = random.chance(piiFraction);
    // The first message pads the conversation to the minimum body size (a pasted e-mail thread, a log).
    const base =
      conversation.turn === 0 ? Math.max(300, minBodyBytes - serialize(conversation.messages, false).length) : 0;
    add({ role: "user", content: message(random, base + random.int(100, 1200), userPii) }, userPii);
    conversation.toolRoundsLeft = random.chance(0.6) ? random.int(1, 2) : 0;
    return { added, pii };
  };

  const next = (): AgentRequest => {
    const user = random.int(0, users - 1);
    const stream = random.chance(streamFraction);
    for (;;) {
      const conversation = (conversations[user] ??= start());
      const { added, pii } = nextMessages(conversation);
      const messages = [...conversation.messages, ...added];
      const body = serialize(messages, stream);
      if (body.length > maxBodyBytes) {
        if (conversation.turn === 0) throw new Error("maxBodyBytes: too small for one turn of this workload");
        conversations[user] = undefined;
        continue;
      }
      conversation.messages.push(...added);
      const request: AgentRequest = {
        user,
        conversation: conversation.id,
        turn: conversation.turn++,
        stream,
        messages,
        newMessages: added.length,
        newPii: pii,
        body,
        bytes: body.length,
      };
      return request;
    }
  };

  return {
    next,
    take: (count) => Array.from({ length: count }, next),
    *[Symbol.iterator]() {
      for (;;) yield next();
    },
  };
}

/** One MCP `tools/call` of the agent workload: a search whose result (several KB) the upstream derives from the arguments. */
export interface AgentToolCall {
  readonly name: string;
  readonly arguments: { readonly query: string; readonly customer_id: string; readonly limit: number };
  /** Which user makes the call, in [0, users): in the benchmarks, whose token it carries. */
  readonly user: number;
  /** Which of that user's MCP sessions it goes to, in [0, sessionsPerUser). */
  readonly session: number;
}

export interface ToolCallWorkloadOptions {
  readonly seed: number;
  /** @default "get_records" */
  readonly tool?: string;
  /**
   * Distinct users making calls, picked at random call by call (as many agents share a gateway).
   * @default 1
   */
  readonly users?: number;
  /**
   * MCP sessions each user holds open (an agent with several tasks in flight), picked at random.
   * @default 1
   */
  readonly sessionsPerUser?: number;
}

/**
 * Seeded `tools/call`s, every query distinct; the upstream answers each with {@link toolResult}(seedOf(query)).
 * Who calls (user and session) comes from a PRNG of its own, so a seed gives the same arguments whatever
 * `users` and `sessionsPerUser` are.
 */
export function createToolCallWorkload(options: ToolCallWorkloadOptions): () => AgentToolCall {
  const users = options.users ?? 1;
  const sessionsPerUser = options.sessionsPerUser ?? 1;
  for (const [name, value] of [
    ["users", users],
    ["sessionsPerUser", sessionsPerUser],
  ] as const)
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected an integer >= 1, got ${value}`);
  const random = createRandom(options.seed);
  const caller = createRandom(options.seed ^ 0x5bd1e995);
  return () => ({
    name: options.tool ?? "get_records",
    arguments: {
      query: `${random.pick(WORDS)} ${random.pick(WORDS)} ${random.int(1, 1_000_000)}`,
      customer_id: `C-${random.int(10000, 99999)}`,
      limit: random.int(5, 25),
    },
    user: caller.int(0, users - 1),
    session: caller.int(0, sessionsPerUser - 1),
  });
}
