/** Pieces of a chat.completions request that the translations from Messages and from Responses build alike. */
import type { Json } from "../../http/json.js";

/** `stream`, `temperature` and `top_p` from a Messages or Responses body (the same members there). */
export function copySampling(body: Json, out: Json): void {
  if (body.stream === true) out.stream = true;
  if (typeof body.temperature === "number") out.temperature = body.temperature;
  if (typeof body.top_p === "number") out.top_p = body.top_p;
}

/** Function tools (name, description, `strict`, and the JSON Schema `schemaOf` finds), or undefined for none. */
export function chatFunctionTools(tools: unknown, schemaOf: (tool: Json) => unknown): Json[] | undefined {
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  return (tools as Json[]).map((t) => ({
    type: "function",
    function: {
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      parameters: schemaOf(t) ?? { type: "object", properties: {} },
      ...(typeof t.strict === "boolean" ? { strict: t.strict } : {}),
    },
  }));
}
