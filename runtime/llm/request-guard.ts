/**
 * Request-side guards on a chat request (OpenAI or Anthropic shape): every piece of message text goes
 * through the route policy's injection and PII guards, in place. Agents resend their whole history every
 * turn, so every verdict is remembered by content hash and source ({@link VerdictCache}): a message is
 * scanned once, whether it was clean, rewritten or refused; later requests take the remembered verdict
 * and report its redactions and refusal again, so every request is audited as if it had been scanned.
 * Text that one cheap pass proves clean (no injection scan for its source, no PII pattern can match:
 * most system prompts, assistant turns and tool-call arguments) is not hashed at all: hashing costs more.
 * Nor is text seen clean before ({@link CleanTextCache}, by exact text: a clean text holds nothing to
 * hide), since a set lookup costs less than the SHA-256 of the key; most of a history is clean.
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

/** Per route: 50,000 verdicts, 32 MiB estimated (a clean verdict holds no text: about 300 bytes with its key). */
const CACHE_LIMITS = { maxEntries: 50_000, maxBytes: 32 * 1024 * 1024 };
/** Per route, clean texts by exact text: up to 64 KiB each, 12,500 of them, 4 Mi characters in all. */
const CLEAN_LIMITS = [12_500, 64 * 1024, 4 * 1024 * 1024] as const;

export interface RequestGuard {
  guardChat(body: Json): RequestGuardResult;
  /**
   * One chat.completions message, in place (what `guardChat` does for each). `seenBefore: false` says no earlier
   * request held it (it follows a remembered history), so the verdict caches are neither asked nor filled.
   */
  guardChatMessage(message: unknown, seenBefore?: boolean): RequestGuardResult;
  guardAnthropic(body: Json): RequestGuardResult;
  /** An OpenAI Responses request: `instructions`, and the text of every input item (messages, function calls and outputs). */
  guardResponses(body: Json): RequestGuardResult;
}

export function createRequestGuard(policy: CompiledGuardPolicy): RequestGuard {
  const cache = new VerdictCache(policy.digest, CACHE_LIMITS);
  const scanners: Record<ContentSource, (text: string) => TextVerdict> = {
    system: (text) => policy.guardRequestText(text, "system"),
    user: (text) => policy.guardRequestText(text, "user"),
    assistant: (text) => policy.guardRequestText(text, "assistant"),
    tool: (text) => policy.guardRequestText(text, "tool"),
  };

  const clean: Record<ContentSource, CleanTextCache> = {
    system: new CleanTextCache(...CLEAN_LIMITS),
    user: new CleanTextCache(...CLEAN_LIMITS),
    assistant: new CleanTextCache(...CLEAN_LIMITS),
    tool: new CleanTextCache(...CLEAN_LIMITS),
  };

  const verdictFor = (text: string, source: ContentSource): TextVerdict => {
    if (text.length === 0 || clean[source].has(text) || policy.requestTextIsPlainlyClean(text, source))
      return { action: "allow", value: text };
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
    visit: (guard: (text: string, source: ContentSource) => string | undefined) => void,
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
  const guardContent = (
    holder: Json,
    key: string,
    source: ContentSource,
    guard: (text: string, source: ContentSource) => string | undefined,
  ) => {
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
        }
      }
    }
  };

  const guardChatMessage = (message: unknown, guard: (text: string, source: ContentSource) => string | undefined) => {
    if (!message || typeof message !== "object") return;
    const m = message as Json;
    const source = chatSource(m.role);
    guardContent(m, "content", source, guard);
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls as Json[]) {
        if (call?.function && typeof call.function.arguments === "string") {
          const next = guard(call.function.arguments, "assistant");
          if (next !== undefined) call.function.arguments = next;
        }
      }
    }
  };

  return {
    guardChat(body) {
      return run((guard) => {
        for (const message of (Array.isArray(body.messages) ? body.messages : []) as unknown[])
          guardChatMessage(message, guard);
      });
    },
    guardChatMessage(message, seenBefore = true) {
      return run((guard) => guardChatMessage(message, guard), seenBefore ? verdictFor : scanNew);
    },
    guardAnthropic(body) {
      return run((guard) => {
        guardContent(body, "system", "system", guard);
        for (const message of (Array.isArray(body.messages) ? body.messages : []) as Json[]) {
          if (!message || typeof message !== "object") continue;
          guardContent(message, "content", message.role === "assistant" ? "assistant" : "user", guard);
        }
      });
    },
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
