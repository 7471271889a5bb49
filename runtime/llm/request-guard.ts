/**
 * Request-side guards on a chat request (OpenAI or Anthropic shape): every piece of message text goes
 * through the route policy's injection and PII guards, in place. Agents resend their whole history every
 * turn, so every verdict is remembered by content hash and source ({@link VerdictCache}): a message is
 * scanned once, whether it was clean, rewritten or refused; later requests take the remembered verdict
 * and report its redactions and refusal again, so every request is audited as if it had been scanned.
 * Text that one cheap pass proves clean (no injection scan for its source, no PII pattern can match:
 * most system prompts, assistant turns and tool-call arguments) is not hashed at all: hashing costs more.
 * Nor is text seen clean before ({@link CleanTextCache}, by exact text: a clean text holds nothing to
 * hide), since a set lookup costs less than the SHA-256 of the key; most of a history is clean. A long text
 * the cheap pass proved clean is kept there too: the lookup costs less than the pass (a system prompt).
 */
import type { Json } from "../http/json.js";
import type { CompiledGuardPolicy, ContentSource, TextVerdict } from "../../policies/guards/index.js";
import { CleanTextCache } from "../guards/clean-text-cache.js";
import { VerdictCache } from "../guards/verdict-cache.js";

export type RequestGuardResult =
  | {
      readonly action: "allow";
      readonly changed: boolean;
      readonly redactions: Record<string, number> | undefined;
      readonly flagged: readonly string[];
    }
  | { readonly action: "block"; readonly guard: string; readonly message: string };

/**
 * For all routes together (each guard gets its share): 50,000 verdicts, 32 MiB estimated (a clean verdict holds no
 * text: about 300 bytes with its key).
 */
const CACHE_LIMITS = { maxEntries: 50_000, maxBytes: 32 * 1024 * 1024 };
/** From this length, a text one pass proved clean is remembered as clean: looking it up costs less than the pass. */
const PASS_OVER_COMPARE_CHARS = 1024;
/** Clean texts by exact text, per source, for all routes together: up to 64 KiB each, 12,500 of them, 4 Mi characters. */
const CLEAN_LIMITS = { entries: 12_500, maxChars: 64 * 1024, totalChars: 4 * 1024 * 1024 };

/**
 * A wire format's request guard split for ./history/: the members beside `messages` it reads, and one message at
 * a time. Guarding the members and then every message does what the format's whole-body guard does.
 */
export interface MessagesGuard {
  /** The top-level members beside `messages` that `guardMembers` reads and rewrites in place. */
  readonly members: readonly string[];
  /** Those members of `body`, in place, through the verdict caches. */
  guardMembers(body: Json): RequestGuardResult;
  /**
   * One message, in place. `seenBefore: false` says no earlier request held it (it follows a remembered
   * history), so the verdict caches are neither asked nor filled.
   */
  guardMessage(message: unknown, seenBefore?: boolean): RequestGuardResult;
  /**
   * Whether clients resend a request's newest message in another form next turn (Anthropic clients move their
   * `cache_control` marker on), so its texts are worth remembering even when new.
   */
  readonly newestResentChanged: boolean;
}

export interface RequestGuard {
  guardChat(body: Json): RequestGuardResult;
  guardAnthropic(body: Json): RequestGuardResult;
  /** An OpenAI Responses request: `instructions`, and the text of every input item (messages, function calls and outputs). */
  guardResponses(body: Json): RequestGuardResult;
  /** What `guardChat` (`chat`) and `guardAnthropic` (`messages`) do, split for the history memory. */
  readonly perMessage: Readonly<Record<"chat" | "messages", MessagesGuard>>;
}

/** `share`: the fraction of the caches' bounds this guard holds (1 / the number of routes). */
export function createRequestGuard(policy: CompiledGuardPolicy, share = 1): RequestGuard {
  const cache = new VerdictCache(policy.digest, {
    maxEntries: Math.ceil(CACHE_LIMITS.maxEntries * share),
    maxBytes: Math.ceil(CACHE_LIMITS.maxBytes * share),
  });
  const cleanCache = () =>
    new CleanTextCache(
      Math.ceil(CLEAN_LIMITS.entries * share),
      CLEAN_LIMITS.maxChars,
      Math.ceil(CLEAN_LIMITS.totalChars * share),
    );
  const scanners: Record<ContentSource, (text: string) => TextVerdict> = {
    system: (text) => policy.guardRequestText(text, "system"),
    user: (text) => policy.guardRequestText(text, "user"),
    assistant: (text) => policy.guardRequestText(text, "assistant"),
    tool: (text) => policy.guardRequestText(text, "tool"),
  };

  const clean: Record<ContentSource, CleanTextCache> = {
    system: cleanCache(),
    user: cleanCache(),
    assistant: cleanCache(),
    tool: cleanCache(),
  };

  const verdictFor = (text: string, source: ContentSource): TextVerdict => {
    if (text.length === 0 || clean[source].has(text)) return { action: "allow", value: text };
    if (policy.requestTextIsPlainlyClean(text, source)) {
      // A long text costs the pass more than a comparison: a system prompt resent on every request.
      if (text.length >= PASS_OVER_COMPARE_CHARS) clean[source].add(text);
      return { action: "allow", value: text };
    }
    const verdict = cache.verdict(source, text, scanners[source]);
    if (verdict.action === "allow" && verdict.value === text && !verdict.redactions && !verdict.flagged)
      clean[source].add(text);
    return verdict;
  };

  /** Text no earlier request held: scanned without looking it up in or adding it to the caches. */
  const scanNew = (text: string, source: ContentSource): TextVerdict =>
    text.length === 0 || policy.requestTextIsPlainlyClean(text, source)
      ? { action: "allow", value: text }
      : scanners[source](text);

  /** Runs a pass over the request; `visit` calls `guard` for each text and writes back the result. */
  const run = (
    visit: (guard: GuardText) => void,
    verdictOf: (text: string, source: ContentSource) => TextVerdict = verdictFor,
  ): RequestGuardResult => {
    if (!policy.guardsRequests) return { action: "allow", changed: false, redactions: undefined, flagged: [] };
    let blocked: { guard: string; message: string } | undefined;
    let changed = false;
    let redactions: Record<string, number> | undefined;
    const flagged = new Set<string>();
    visit((text, source) => {
      if (blocked) return undefined;
      const verdict = verdictOf(text, source);
      if (verdict.action === "block") {
        blocked = { guard: verdict.guard, message: verdict.message };
        return undefined;
      }
      if (verdict.redactions) {
        redactions ??= {};
        for (const [kind, n] of Object.entries(verdict.redactions)) redactions[kind] = (redactions[kind] ?? 0) + n;
      }
      for (const f of verdict.flagged ?? []) flagged.add(f);
      if (verdict.value !== text) {
        changed = true;
        return verdict.value;
      }
      return undefined;
    });
    if (blocked) return { action: "block", ...blocked };
    return { action: "allow", changed, redactions, flagged: [...flagged] };
  };

  /** Guards `holder[key]` when it is a string or an array of text parts. */
  const guardContent = (holder: Json, key: string, source: ContentSource, guard: GuardText) => {
    const content = holder[key];
    if (typeof content === "string") {
      const next = guard(content, source);
      if (next !== undefined) holder[key] = next;
    } else if (Array.isArray(content)) {
      for (const part of content as Json[]) {
        if (!part || typeof part !== "object") continue;
        if (typeof part.text === "string") {
          const next = guard(part.text, source);
          if (next !== undefined) part.text = next;
        } else if (part.type === "tool_result") {
          guardContent(part, "content", "tool", guard);
        } else if (part.type === "tool_use" && part.input && typeof part.input === "object") {
          guardStrings(part.input as Json, guard);
        }
      }
    }
  };

  /** Every string inside a tool call's JSON input (Anthropic `tool_use.input`), as chat's call arguments are. */
  const guardStrings = (node: Json, guard: GuardText) => {
    for (const [key, value] of Object.entries(node)) {
      if (typeof value === "string") {
        const next = guard(value, "assistant");
        if (next !== undefined) node[key] = next;
      } else if (value && typeof value === "object") guardStrings(value as Json, guard);
    }
  };

  const chatWalk: Walk = {
    members: [],
    visitMembers: () => undefined,
    visitMessage(message, guard) {
      guardContent(message, "content", chatSource(message.role), guard);
      if (Array.isArray(message.tool_calls)) {
        for (const call of message.tool_calls as Json[]) {
          if (call?.function && typeof call.function.arguments === "string") {
            const next = guard(call.function.arguments, "assistant");
            if (next !== undefined) call.function.arguments = next;
          }
        }
      }
    },
  };

  const anthropicWalk: Walk = {
    members: ["system"],
    visitMembers: (body, guard) => guardContent(body, "system", "system", guard),
    visitMessage: (message, guard) =>
      guardContent(message, "content", message.role === "assistant" ? "assistant" : "user", guard),
  };

  const visitMessage = (walk: Walk, message: unknown, guard: GuardText) => {
    if (message && typeof message === "object") walk.visitMessage(message as Json, guard);
  };

  const guardBody = (walk: Walk, body: Json) =>
    run((guard) => {
      walk.visitMembers(body, guard);
      for (const message of (Array.isArray(body.messages) ? body.messages : []) as unknown[])
        visitMessage(walk, message, guard);
    });

  const perMessage = (walk: Walk, newestResentChanged: boolean): MessagesGuard => ({
    members: walk.members,
    newestResentChanged,
    guardMembers: (body) => run((guard) => walk.visitMembers(body, guard)),
    guardMessage: (message, seenBefore = true) =>
      run((guard) => visitMessage(walk, message, guard), seenBefore ? verdictFor : scanNew),
  });

  return {
    guardChat: (body) => guardBody(chatWalk, body),
    guardAnthropic: (body) => guardBody(anthropicWalk, body),
    perMessage: { chat: perMessage(chatWalk, false), messages: perMessage(anthropicWalk, true) },
    guardResponses(body) {
      return run((guard) => {
        if (typeof body.instructions === "string") guardContent(body, "instructions", "system", guard);
        if (typeof body.input === "string") guardContent(body, "input", "user", guard);
        for (const item of (Array.isArray(body.input) ? body.input : []) as Json[]) {
          if (!item || typeof item !== "object") continue;
          if (item.type === "function_call") guardContent(item, "arguments", "assistant", guard);
          else if (item.type === "function_call_output") guardContent(item, "output", "tool", guard);
          else guardContent(item, "content", chatSource(item.role), guard);
        }
      });
    },
  };
}

/** Guards one text of `source`: the rewritten text when a guard changed it. */
type GuardText = (text: string, source: ContentSource) => string | undefined;

/** How a format's body is walked: the members beside `messages` (named in `members`), and each message. */
interface Walk {
  readonly members: readonly string[];
  visitMembers(body: Json, guard: GuardText): void;
  visitMessage(message: Json, guard: GuardText): void;
}

function chatSource(role: unknown): ContentSource {
  switch (role) {
    case "system":
    case "developer":
      return "system";
    case "assistant":
      return "assistant";
    case "tool":
    case "function":
      return "tool";
    default:
      return "user";
  }
}
