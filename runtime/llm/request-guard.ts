/**
 * Request-side guards on a chat request (OpenAI or Anthropic shape): every piece of message text goes
 * through the route policy's injection and PII guards, in place. Agents resend their whole history every
 * turn, so texts found clean are remembered per source ({@link CleanTextCache}): a clean message is
 * scanned once, not once per turn; one that was redacted or refused (PII, an injection) is never kept and
 * is scanned again.
 */
import type { Json } from "../http/json.js";
import type { CompiledGuardPolicy, ContentSource, TextVerdict } from "../../policies/guards/index.js";
import { CleanTextCache, isCleanVerdict } from "../guards/clean-text-cache.js";

export type RequestGuardResult =
  | {
      readonly action: "allow";
      readonly changed: boolean;
      readonly redactions: Record<string, number> | undefined;
      readonly flagged: readonly string[];
    }
  | { readonly action: "block"; readonly guard: string; readonly message: string };

/** Per source: texts up to 64 KiB, 12,500 of them, 4 Mi characters in all (about 32 MB over the four sources). */
const CACHE_MAX_TEXT = 64 * 1024;
const CACHE_MAX_ENTRIES = 12_500;
const CACHE_MAX_CHARS = 4 * 1024 * 1024;

export interface RequestGuard {
  guardChat(body: Json): RequestGuardResult;
  guardAnthropic(body: Json): RequestGuardResult;
}

export function createRequestGuard(policy: CompiledGuardPolicy): RequestGuard {
  const caches = new Map<ContentSource, CleanTextCache>();

  const verdictFor = (text: string, source: ContentSource): TextVerdict => {
    if (text.length === 0) return { action: "allow", value: text };
    let clean = caches.get(source);
    if (!clean) {
      clean = new CleanTextCache(CACHE_MAX_ENTRIES, CACHE_MAX_TEXT, CACHE_MAX_CHARS);
      caches.set(source, clean);
    }
    if (clean.has(text)) return { action: "allow", value: text };
    const verdict = policy.guardRequestText(text, source);
    if (isCleanVerdict(text, verdict)) clean.add(text);
    return verdict;
  };

  /** Runs a pass over the request; `visit` calls `guard` for each text and writes back the result. */
  const run = (
    visit: (guard: (text: string, source: ContentSource) => string | undefined) => void,
  ): RequestGuardResult => {
    if (!policy.guardsRequests) return { action: "allow", changed: false, redactions: undefined, flagged: [] };
    let blocked: { guard: string; message: string } | undefined;
    let changed = false;
    let redactions: Record<string, number> | undefined;
    const flagged = new Set<string>();
    visit((text, source) => {
      if (blocked) return undefined;
      const verdict = verdictFor(text, source);
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

  return {
    guardChat(body) {
      return run((guard) => {
        for (const message of (Array.isArray(body.messages) ? body.messages : []) as Json[]) {
          if (!message || typeof message !== "object") continue;
          const source = chatSource(message.role);
          guardContent(message, "content", source, guard);
          if (Array.isArray(message.tool_calls)) {
            for (const call of message.tool_calls as Json[]) {
              if (call?.function && typeof call.function.arguments === "string") {
                const next = guard(call.function.arguments, "assistant");
                if (next !== undefined) call.function.arguments = next;
              }
            }
          }
        }
      });
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
