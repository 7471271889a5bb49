/**
 * One tool call of an OpenAPI upstream as one HTTP request, built from the bundle's operation and the call's
 * arguments only: nothing of the client's request (its token, its headers) can reach it.
 * - Arguments are checked against the operation: an undeclared argument, a missing required one, or a value
 *   of the wrong shape for where it goes refuses the call before anything is sent.
 * - Path parameters are percent-encoded as one segment each; `.` and `..` are refused, so no value can climb
 *   out of the path template (the URL parser would resolve them), and the built URL must stay under the base.
 */
import type { OpenApiOperation } from "../../policies/bundle/index.js";
import { BODY_ARGUMENT } from "../../policies/bundle/openapi-schema.js";

export interface OperationRequest {
  readonly url: string;
  readonly method: OpenApiOperation["method"];
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** The request for `operation` with `args`, or why the arguments are refused (said to the caller as is). */
export function operationRequest(
  baseUrl: string,
  operation: OpenApiOperation,
  args: Record<string, unknown>,
): OperationRequest | { refused: string } {
  const declared = new Set(operation.parameters.map((p) => p.name));
  if (operation.body) declared.add(BODY_ARGUMENT);
  const unknown = Object.keys(args).filter((name) => !declared.has(name));
  if (unknown.length > 0)
    return {
      refused: `unknown argument${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `"${n}"`).join(", ")}: ${operation.tool} takes ${[...declared].map((n) => `"${n}"`).join(", ") || "no arguments"}`,
    };
  let path = operation.path;
  const query = new URLSearchParams();
  const headers: Record<string, string> = { accept: "application/json" };
  for (const parameter of operation.parameters) {
    const value = args[parameter.name];
    if (value === undefined || value === null) {
      if (parameter.required) return { refused: `missing required argument "${parameter.name}"` };
      continue;
    }
    if (parameter.in === "query") {
      const values = Array.isArray(value) ? value : [value];
      const texts = values.map(scalarText);
      if (texts.some((t) => t === undefined))
        return { refused: `argument "${parameter.name}": expected a string, number or boolean, or a list of them` };
      if (parameter.explode || !Array.isArray(value))
        for (const text of texts) query.append(parameter.name, text ?? "");
      else query.append(parameter.name, texts.join(","));
      continue;
    }
    const text = scalarText(value);
    if (text === undefined) return { refused: `argument "${parameter.name}": expected a string, number or boolean` };
    if (parameter.in === "header") {
      if (/[\r\n\0]/.test(text))
        return { refused: `argument "${parameter.name}": a header value cannot hold line breaks` };
      headers[parameter.name.toLowerCase()] = text;
      continue;
    }
    if (text === "" || text === "." || text === "..")
      return { refused: `argument "${parameter.name}": a path parameter cannot be empty, "." or ".."` };
    path = path.replaceAll(`{${parameter.name}}`, encodeURIComponent(text));
  }
  let body: string | undefined;
  if (operation.body) {
    const value = args[BODY_ARGUMENT];
    if (value === undefined) {
      if (operation.body.required) return { refused: `missing required argument "${BODY_ARGUMENT}"` };
    } else {
      body = JSON.stringify(value);
      headers["content-type"] = operation.body.contentType;
    }
  }
  const base = new URL(baseUrl);
  const basePath = base.pathname.replace(/\/+$/, "");
  const search = query.size > 0 ? `?${query.toString()}` : "";
  const url = new URL(`${basePath}${path}${search}`, base.origin);
  // Encoding and the refusals above keep every value inside its segment; this states the invariant.
  if (url.origin !== base.origin || !url.pathname.startsWith(`${basePath}/`))
    return { refused: "the arguments would leave the operation's path" };
  return { url: url.href, method: operation.method, headers, ...(body !== undefined ? { body } : {}) };
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return String(value);
  return undefined;
}
