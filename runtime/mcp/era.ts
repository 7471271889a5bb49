/**
 * Which MCP protocol era a POST belongs to, decided the way the 2026-07-28 revision says: body first. A
 * message whose `params._meta` carries `io.modelcontextprotocol/protocolVersion` (the per-request envelope)
 * is a stateless 2026-07-28 message; anything else is 2025-era traffic and keeps the session path. The
 * `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers are cross-checks only: routing and policy
 * never read them, and one that disagrees with the body, or is missing where the spec requires it, refuses
 * the request (HTTP 400, JSON-RPC -32020 HeaderMismatch).
 */
import { type JsonRpcRequestLike, asRequest } from "./jsonrpc.js";

export const STATELESS_PROTOCOL_VERSION = "2026-07-28";
export const PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion";
export const CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities";
export const CLIENT_INFO_META_KEY = "io.modelcontextprotocol/clientInfo";
export const SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo";

/** JSON-RPC codes of the 2026-07-28 validation ladder. */
export const HEADER_MISMATCH = -32020;
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;
const INVALID_REQUEST = -32600;
const INVALID_PARAMS = -32602;

/** The body field `Mcp-Name` mirrors, per method (SEP-2243). */
const MCP_NAME_SOURCE: Readonly<Record<string, "name" | "uri" | "taskId">> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

export interface EraHeaders {
  readonly protocolVersion: string | undefined;
  readonly method: string | undefined;
  readonly name: string | undefined;
}

/** A refusal of the validation ladder; `audit` says why when the refusal is worth an audit line. */
export interface EraRefusal {
  readonly status: number;
  readonly code: number;
  readonly message: string;
  readonly id: string | number | null;
  readonly data?: unknown;
  /** Set for header/body disagreements: someone sent headers that do not describe the body. */
  readonly auditRule?: string;
}

export type Era =
  | { readonly era: "legacy" }
  | { readonly era: "stateless-request"; readonly request: JsonRpcRequestLike }
  | { readonly era: "stateless-notification" }
  | { readonly era: "refused"; readonly refusal: EraRefusal };

const LEGACY: Era = { era: "legacy" };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function metaOf(message: unknown): Record<string, unknown> | undefined {
  if (!isObject(message) || !isObject(message.params)) return undefined;
  return isObject(message.params._meta) ? message.params._meta : undefined;
}

function hasClaim(message: unknown): boolean {
  const meta = metaOf(message);
  return meta !== undefined && PROTOCOL_VERSION_META_KEY in meta;
}

/** Header values with the optional whitespace around them removed; a repeated header counts as absent-or-joined. */
export function eraHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): EraHeaders {
  const one = (name: string): string | undefined => {
    const value = headers[name];
    const text = Array.isArray(value) ? value.join(", ") : value;
    return text === undefined ? undefined : text.replace(/^[ \t]+|[ \t]+$/g, "");
  };
  return { protocolVersion: one("mcp-protocol-version"), method: one("mcp-method"), name: one("mcp-name") };
}

const refused = (refusal: EraRefusal): Era => ({ era: "refused", refusal });

function mismatch(id: string | number | null, header: string, body: string, auditRule?: string): Era {
  return refused({
    status: 400,
    code: HEADER_MISMATCH,
    message: `Bad Request: the request headers and body disagree: ${body}`,
    id,
    data: { mismatch: { header, body } },
    ...(auditRule ? { auditRule } : {}),
  });
}

/** `Mcp-Name` values may be sent as `=?base64?<utf-8 as base64>?=`; undefined when that encoding is broken. */
function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith("=?base64?") && value.endsWith("?="))) return value;
  const b64 = value.slice(9, -2);
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(b64, "base64"));
  } catch {
    return undefined;
  }
}

function isModernVersion(version: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= STATELESS_PROTOCOL_VERSION;
}

/** Classifies one parsed POST body (`body` as sent, a batch stays an array). */
export function classifyEra(body: unknown, headers: EraHeaders): Era {
  if (Array.isArray(body)) {
    if (body.some(hasClaim))
      return refused({
        status: 400,
        code: INVALID_REQUEST,
        message: `Bad Request: JSON-RPC batches may not contain requests for protocol revision ${STATELESS_PROTOCOL_VERSION}`,
        id: null,
      });
    return LEGACY;
  }
  const request = asRequest(body);
  if (request) return classifyRequest(body as Record<string, unknown>, request, headers);
  if (isObject(body) && typeof body.method === "string" && !("id" in body))
    return classifyNotification(body, body.method, headers);
  // Responses and malformed bodies: the session path answers them as it always has.
  return LEGACY;
}

function classifyRequest(body: Record<string, unknown>, request: JsonRpcRequestLike, headers: EraHeaders): Era {
  const { id, method } = request;
  const headerModern = headers.protocolVersion !== undefined && isModernVersion(headers.protocolVersion);
  if (!hasClaim(body)) {
    if (!headerModern) return LEGACY;
    // The 2026 revision has no handshake: an initialize is 2025-era by definition, so a 2026 header lies.
    if (method === "initialize")
      return mismatch(
        id,
        headers.protocolVersion ?? "",
        "an initialize request (2025-era handshake) was sent with a 2026 MCP-Protocol-Version header",
      );
    return refused({
      status: 400,
      code: INVALID_PARAMS,
      message: `Invalid params: the MCP-Protocol-Version header names protocol revision ${headers.protocolVersion}, but the request has no ${PROTOCOL_VERSION_META_KEY} in params._meta`,
      id,
      data: { envelope: { missing: [PROTOCOL_VERSION_META_KEY] } },
    });
  }
  const meta = metaOf(body) ?? {};
  const version = meta[PROTOCOL_VERSION_META_KEY];
  if (typeof version !== "string")
    return refused(envelopeIssue(id, PROTOCOL_VERSION_META_KEY, "expected a protocol version string"));
  if (!isObject(meta[CLIENT_CAPABILITIES_META_KEY]))
    return refused(envelopeIssue(id, CLIENT_CAPABILITIES_META_KEY, "missing or not an object"));
  if (version !== STATELESS_PROTOCOL_VERSION)
    return refused({
      status: 400,
      code: UNSUPPORTED_PROTOCOL_VERSION,
      message: `Unsupported protocol version: ${version}`,
      id,
      data: { supported: [STATELESS_PROTOCOL_VERSION], requested: version },
    });
  if (headers.protocolVersion !== undefined && headers.protocolVersion !== version)
    return mismatch(
      id,
      headers.protocolVersion,
      `the body envelope names protocol version ${version} but the MCP-Protocol-Version header names ${headers.protocolVersion}`,
    );
  if (headers.method !== undefined && headers.method !== method)
    return mismatch(
      id,
      headers.method,
      `the body names method ${method} but the Mcp-Method header names ${headers.method}`,
      "mcp header: Mcp-Method disagrees with the body",
    );
  if (headers.protocolVersion === undefined)
    return mismatch(id, "(missing)", "the required MCP-Protocol-Version header is absent");
  if (headers.method === undefined)
    return mismatch(id, "(missing)", `the body names method ${method} but the required Mcp-Method header is absent`);
  const field = Object.hasOwn(MCP_NAME_SOURCE, method) ? MCP_NAME_SOURCE[method] : undefined;
  if (field !== undefined) {
    const raw = request.params?.[field];
    const bodyValue = typeof raw === "string" ? raw : undefined;
    if (headers.name === undefined) {
      if (bodyValue !== undefined)
        return mismatch(
          id,
          "(missing)",
          `the body carries params.${field}="${bodyValue}" but the required Mcp-Name header is absent`,
          "mcp header: Mcp-Name missing",
        );
    } else {
      const decoded = decodeHeaderValue(headers.name);
      if (decoded === undefined)
        return mismatch(id, headers.name, "the Mcp-Name header carries an invalid Base64 sentinel value");
      if (bodyValue !== undefined && decoded !== bodyValue)
        return mismatch(
          id,
          headers.name,
          `the body carries params.${field}="${bodyValue}" but the Mcp-Name header names "${decoded}"`,
          "mcp header: Mcp-Name disagrees with the body",
        );
    }
  }
  return { era: "stateless-request", request };
}

function envelopeIssue(id: string | number, key: string, problem: string): EraRefusal {
  return {
    status: 400,
    code: INVALID_PARAMS,
    message: `Invalid _meta envelope for protocol revision ${STATELESS_PROTOCOL_VERSION}: ${key}: ${problem}`,
    id,
    data: { envelope: { key, problem } },
  };
}

function classifyNotification(body: Record<string, unknown>, method: string, headers: EraHeaders): Era {
  const claimed = hasClaim(body);
  const headerModern = headers.protocolVersion !== undefined && isModernVersion(headers.protocolVersion);
  if (!claimed && !headerModern) return LEGACY;
  if (headers.method !== undefined && headers.method !== method)
    return mismatch(
      null,
      headers.method,
      `the notification body names method ${method} but the Mcp-Method header names ${headers.method}`,
      "mcp header: Mcp-Method disagrees with the body",
    );
  return { era: "stateless-notification" };
}
