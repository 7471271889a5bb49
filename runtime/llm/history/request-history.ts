/**
 * Agents resend their whole conversation every turn. The gateway remembers each principal's last chat.completions
 * and Anthropic Messages requests on a route (their bytes, where each message ends, and each message as it was
 * guarded and forwarded), so a request that repeats a remembered one's messages byte for byte and adds new ones
 * is parsed, guarded and serialized only for what it adds. The history is recognized by comparing bytes at
 * message boundaries (a memory comparison), not by hashing or parsing it. Whatever the memory holds, the body read is the one
 * `JSON.parse` of the whole request would give: a prefix of bytes decides the values it contains, and a body
 * the scan cannot vouch for (duplicate or escaped `messages` keys, anything malformed) is parsed whole.
 */
import type { Json } from "../../http/json.js";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../http/json.js";
import type { MessagesGuard, RequestGuardResult } from "../request-guard.js";
import { EncodedMessages } from "./encoded-messages.js";
import { type MessagesLayout, scanArrayTail, scanMessagesLayout } from "./json-scan.js";

/** One message as the request guards left it. */
export interface GuardedMessage {
  /** The message forwarded (rewritten where a guard redacted). Shared between requests: never mutated. */
  readonly value: unknown;
  readonly redactions: Readonly<Record<string, number>> | undefined;
  readonly flagged: readonly string[];
}

/** A body as read for the request path, with what the history memory already knows of it. */
export interface HistoryBody {
  /** What `JSON.parse` of `raw` gives; the members the format's guard rewrites are this request's own copies. */
  readonly json: Json;
  /** Those members as the client sent them (never handed to the guard): what the memory keeps of them. */
  readonly sent: Json;
  readonly guard: MessagesGuard;
  /** The leading messages guarded before, in order; the request guards start after them. */
  readonly known: readonly GuardedMessage[];
  /** Where each message ends in `raw` and where the array closes, when the scan could tell (else not remembered). */
  readonly layout: MessagesLayout | undefined;
  readonly raw: Buffer;
  /** The remembered request this one extends. */
  readonly extends: Remembered | undefined;
}

interface Remembered {
  /** The format's guard: a body is matched only against requests of its own format. */
  readonly guard: MessagesGuard;
  readonly raw: Buffer;
  readonly layout: MessagesLayout;
  /** The members before `messages`, and after it (`raw` from `layout.close + 1`), as the client sent them. */
  readonly head: Json;
  readonly rest: Json;
  readonly messages: readonly GuardedMessage[];
  readonly encoded: EncodedMessages;
  readonly bytes: number;
}

export interface RequestHistoryLimits {
  /** Requests remembered per principal (its concurrent conversations). */
  readonly perPrincipal: number;
  /** Estimated bytes held in all. */
  readonly maxBytes: number;
}

/** Parsed objects and their strings cost several times their bytes: a remembered request is counted as this many. */
const BYTES_PER_BODY_BYTE = 6;

export class RequestHistory {
  /** Per principal, most recent first; the map's order is least recently used first. */
  private readonly byPrincipal = new Map<string, Remembered[]>();
  private bytes = 0;

  constructor(private readonly limits: RequestHistoryLimits) {}

  /** Estimated bytes held. */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * `raw` as a JSON object of the format `guard` guards, from the request of `principal` it extends when there is
   * one; undefined when `raw` is not a JSON object. `tooDeep` is true when a part the memory did not vouch for
   * nests deeper than the bound.
   */
  read(principal: string, raw: Buffer, guard: MessagesGuard): { body: HistoryBody; tooDeep: boolean } | undefined {
    const list = this.byPrincipal.get(principal);
    if (list) {
      this.byPrincipal.delete(principal);
      this.byPrincipal.set(principal, list);
      for (const remembered of list) {
        const extended = remembered.guard === guard ? extend(remembered, raw) : undefined;
        if (extended) return withOwnMembers(extended, guard);
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(raw.toString("utf8"));
    } catch {
      return undefined;
    }
    if (!json || typeof json !== "object" || Array.isArray(json)) return undefined;
    const body = { json: json as Json, known: [], layout: scanMessagesLayout(raw), raw, extends: undefined };
    return withOwnMembers({ body, tooDeep: nestsDeeperThan(json) }, guard);
  }

  /**
   * Guards `body` in place (with the guard it was read for): the members beside `messages` on every request,
   * then the messages the memory did not know; then remembers it. The verdict counts the known messages'
   * redactions too: every request is audited as if all of it had been scanned. `messages`: every message as
   * guarded and serialized, when allowed.
   */
  guard(principal: string, body: HistoryBody): { verdict: RequestGuardResult; messages?: EncodedMessages } {
    const verdict = body.guard.guardMembers(body.json);
    if (verdict.action === "block") return { verdict };
    const messages = body.json.messages as unknown[];
    // The known messages are the body's first ones, or nothing is taken as known (every message is guarded).
    const known = body.known.every((m, i) => messages[i] === m.value) ? body.known : [];
    const guarded = [...known];
    const redactions: Record<string, number> = {};
    const flagged = new Set(verdict.flagged);
    const count = (counted: { redactions?: Readonly<Record<string, number>>; flagged: readonly string[] }) => {
      for (const [kind, n] of Object.entries(counted.redactions ?? {})) redactions[kind] = (redactions[kind] ?? 0) + n;
      for (const f of counted.flagged) flagged.add(f);
    };
    count(verdict);
    for (const message of known) count(message);
    // Past the remembered request's messages, a message is new: scanned without the verdict caches (nothing to find
    // there, nor to keep: the memory knows it next time), except the newest where clients resend it in another
    // form next turn (Anthropic's cache_control marker moves on). One the remembered request held in another form
    // (that marker, an edit) likely holds texts seen before.
    const seenBelow = known.length > 0 ? (body.extends?.messages.length ?? 0) : messages.length;
    const cachedFrom = body.guard.newestResentChanged ? messages.length - 1 : messages.length;
    const added: string[] = [];
    for (let i = known.length; i < messages.length; i++) {
      const value = messages[i];
      const result = body.guard.guardMessage(value, i < seenBelow || i >= cachedFrom);
      if (result.action === "block") return { verdict: result };
      count(result);
      // Serialized from what the guards read, never the client's bytes: a provider's parser could read a repeated
      // key or an odd number differently.
      added.push(JSON.stringify(value));
      guarded.push({ value, redactions: result.redactions, flagged: result.flagged });
    }
    const encoded = EncodedMessages.after(known.length > 0 ? body.extends?.encoded : undefined, known.length, added);
    this.remember(principal, body, guarded, encoded);
    const counted = Object.keys(redactions).length > 0 ? redactions : undefined;
    return {
      verdict: { action: "allow", changed: false, redactions: counted, flagged: [...flagged] },
      messages: encoded,
    };
  }

  /** Remembers `body` with every message as guarded, replacing the request it extended. */
  private remember(
    principal: string,
    body: HistoryBody,
    messages: readonly GuardedMessage[],
    encoded: EncodedMessages,
  ): void {
    const { layout } = body;
    if (!layout || layout.ends.length !== messages.length) return;
    const head: Json = {};
    const rest: Json = {};
    let before = true;
    for (const [key, value] of Object.entries(body.json)) {
      if (key === "messages") before = false;
      else (before ? head : rest)[key] = Object.hasOwn(body.sent, key) ? body.sent[key] : value;
    }
    const bytes = BYTES_PER_BODY_BYTE * body.raw.byteLength;
    if (bytes > this.limits.maxBytes / 8) return;
    const entry: Remembered = {
      guard: body.guard,
      raw: ownBytes(body.raw),
      layout,
      head,
      rest,
      messages,
      encoded,
      bytes,
    };
    const list = this.byPrincipal.get(principal) ?? [];
    const replaced = body.extends ? list.indexOf(body.extends) : -1;
    if (replaced >= 0) {
      this.bytes -= (list[replaced] as Remembered).bytes;
      list.splice(replaced, 1);
    }
    list.unshift(entry);
    this.bytes += bytes;
    while (list.length > this.limits.perPrincipal) this.bytes -= (list.pop() as Remembered).bytes;
    this.byPrincipal.delete(principal);
    this.byPrincipal.set(principal, list);
    this.evict();
  }

  private evict(): void {
    for (const [principal, list] of this.byPrincipal) {
      if (this.bytes <= this.limits.maxBytes) return;
      const oldest = list.pop() as Remembered;
      this.bytes -= oldest.bytes;
      if (list.length === 0) this.byPrincipal.delete(principal);
    }
  }
}

/** A body read, before its guarded members are copied (`withOwnMembers`). */
type ReadBody = Omit<HistoryBody, "sent" | "guard">;

/**
 * The body with its own copy of each member the guard rewrites in place, the member as sent kept apart: the
 * guard must never rewrite what the memory holds, nor read a member the memory holds as already rewritten.
 * (A body nesting too deep is refused unguarded: nothing to copy.)
 */
function withOwnMembers(read: { body: ReadBody; tooDeep: boolean }, guard: MessagesGuard) {
  const { body, tooDeep } = read;
  const sent: Json = {};
  for (const key of tooDeep ? [] : guard.members) {
    if (!Object.hasOwn(body.json, key)) continue;
    sent[key] = body.json[key];
    body.json[key] = copyJson(body.json[key]);
  }
  return { body: { ...body, sent, guard }, tooDeep };
}

/** `value` with new objects and arrays (its strings, immutable, shared): a third of structuredClone's time. */
const copyJson = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(copyJson)
    : value && typeof value === "object"
      ? Object.fromEntries(Object.entries(value).map(([key, v]) => [key, copyJson(v)]))
      : value;

/** `raw` read as `remembered`'s messages (the most that are byte for byte the same) plus what follows them. */
function extend(remembered: Remembered, raw: Buffer): { body: ReadBody; tooDeep: boolean } | undefined {
  const { ends } = remembered.layout;
  const same = (end: number) => raw.length > end && raw.compare(remembered.raw, 0, end, 0, end) === 0;
  if (!same(ends[0] as number)) return undefined;
  // Append-only histories match whole; an edited or trimmed one matches up to the first message that changed.
  let last = ends.length - 1;
  if (!same(ends[last] as number)) {
    let known = 0;
    while (last - known > 1) {
      const middle = (known + last) >>> 1;
      if (same(ends[middle] as number)) known = middle;
      else last = middle;
    }
    last = known;
  }
  const from = ends[last] as number;
  const tail = scanArrayTail(raw, from);
  if (!tail) return undefined;
  let added: unknown[];
  let rest: Json | undefined;
  try {
    // scanArrayTail saw `(, value)* ]` from `from`: the added elements, then the members after the array.
    const addedText = withoutLeadingSpace(raw.toString("utf8", from, tail.close));
    added = addedText === "" ? [] : (JSON.parse(`[${addedText.slice(1)}]`) as unknown[]);
    rest = sameRest(remembered, raw, tail.close + 1) ? remembered.rest : parseRest(raw, tail.close + 1);
  } catch {
    return undefined;
  }
  // A key of the head or `messages` again after the array: left to the full parse, which takes the last.
  if (!rest || Object.hasOwn(rest, "messages") || Object.keys(remembered.head).some((k) => Object.hasOwn(rest, k)))
    return undefined;
  const known = remembered.messages.slice(0, last + 1);
  const json: Json = { ...remembered.head, messages: [...known.map((m) => m.value), ...added], ...rest };
  return {
    body: {
      json,
      known,
      layout: { ends: [...ends.slice(0, last + 1), ...tail.ends], close: tail.close },
      raw,
      extends: remembered,
    },
    tooDeep: nestsDeeperThan(added, MAX_JSON_DEPTH - 1) || (rest !== remembered.rest && nestsDeeperThan(rest)),
  };
}

/** Whether `raw` from `at` is the remembered request's bytes after its messages (tools, settings): parsed once. */
function sameRest(remembered: Remembered, raw: Buffer, at: number): boolean {
  const from = remembered.layout.close + 1;
  return (
    raw.length - at === remembered.raw.length - from &&
    raw.compare(remembered.raw, from, remembered.raw.length, at) === 0
  );
}

/** The members after the messages array (from `at`, just after its `]`); undefined when they are not `(, member)* }`. */
function parseRest(raw: Buffer, at: number): Json | undefined {
  const text = withoutLeadingSpace(raw.toString("utf8", at));
  if (!text.startsWith(",")) return /^\}[ \t\n\r]*$/.test(text) ? {} : undefined;
  const members = withoutLeadingSpace(text.slice(1));
  return members.startsWith('"') ? (JSON.parse(`{${members}`) as Json) : undefined;
}

/** `text` without the whitespace JSON allows before a token (JavaScript's trimStart removes more). */
const withoutLeadingSpace = (text: string): string => text.replace(/^[ \t\n\r]+/, "");

/** `raw` in a buffer of its own, so a small body kept does not keep a large socket buffer alive. */
function ownBytes(raw: Buffer): Buffer {
  return raw.byteOffset === 0 && raw.buffer.byteLength === raw.byteLength ? raw : Buffer.from(raw);
}
