/**
 * A test-only adapter for the conformance proxy: the conformance scenarios call the fixture's bare names
 * (`test_simple_text`, `test://static-text`), while the gateway always exposes namespaced ones
 * (`conf__test_simple_text`, `tollgate://conf/test%3A%2F%2Fstatic-text`). With the adapter on, the proxy
 * rewrites names in requests and back in responses, so the scenarios measure what the gateway does to the
 * protocol itself (content, errors, logging, progress, sampling, elicitation, subscriptions) rather than
 * its naming. Reported separately from the plain run.
 */
import { namespacedName, namespacedUri } from "../../policies/tools/index.js";

const TEMPLATE_BRACES = (s: string) => s.replace(/%7B/g, "{").replace(/%7D/g, "}");

function mapMessage(message: unknown, upstream: string): unknown {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return message;
  const m = message as { method?: unknown; params?: Record<string, unknown> };
  const params = m.params;
  if (typeof m.method !== "string" || !params) return message;
  const name = typeof params.name === "string" ? params.name : undefined;
  const uri = typeof params.uri === "string" ? params.uri : undefined;
  switch (m.method) {
    case "tools/call":
    case "prompts/get":
      return name ? { ...m, params: { ...params, name: namespacedName(upstream, name) } } : message;
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe":
      return uri ? { ...m, params: { ...params, uri: namespacedUri(upstream, uri) } } : message;
    case "completion/complete": {
      const ref = params.ref as { type?: string; name?: string; uri?: string } | undefined;
      if (ref?.type === "ref/prompt" && ref.name)
        return { ...m, params: { ...params, ref: { ...ref, name: namespacedName(upstream, ref.name) } } };
      if (ref?.type === "ref/resource" && ref.uri)
        return { ...m, params: { ...params, ref: { ...ref, uri: TEMPLATE_BRACES(namespacedUri(upstream, ref.uri)) } } };
      return message;
    }
    default:
      return message;
  }
}

/** Rewrites bare names in a JSON-RPC request body (single message or batch) to the gateway's names. */
export function mapRequestBody(body: string, upstream: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body;
  }
  return JSON.stringify(
    Array.isArray(parsed) ? parsed.map((m) => mapMessage(m, upstream)) : mapMessage(parsed, upstream),
  );
}

/** Rewrites the gateway's names in response text back to the bare ones. */
export function unmapResponseText(text: string, upstream: string): string {
  const uri = new RegExp(`tollgate://${upstream}/([^"\\s\\\\]*)`, "g");
  return text
    .replace(uri, (_all, encoded: string) => {
      try {
        return JSON.stringify(decodeURIComponent(encoded)).slice(1, -1);
      } catch {
        return encoded;
      }
    })
    .replace(new RegExp(`"${upstream}__`, "g"), '"');
}
