/**
 * Types shared by the stages of the request path (DESIGN.md): authenticate → identify → authorize →
 * limit → guard request → forward → guard response → record. Each stage lives in its own module and
 * talks to the others only through these types.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Bundle, SecretRef } from "../../policies/bundle/index.js";
import type { Delegation } from "../../policies/identity/acting-for.js";
import type { AuditLog } from "../observability/audit.js";
import type { Cancellation } from "./cancellation.js";
import type { MaybePromise } from "./stage.js";

/** Who is calling, from a verified token only (never from a client-supplied header). */
export interface Principal {
  readonly issuer: string;
  /** The human: `sub`. */
  readonly subject: string;
  /** The agent: `cid` or `azp`. */
  readonly clientId: string | undefined;
  readonly scopes: readonly string[];
  /**
   * The bundle's agent (`agents[].id`) behind the request, when the token names one: its own client, or the
   * actor of a token it exchanged for a user. Undefined for any other client.
   */
  readonly agent?: string;
  /**
   * How the agent acts for the subject (a user): with a token it exchanged (RFC 8693 `act`) or beside the user's
   * own token (`Tollgate-Agent-Token`). Undefined when the agent acts alone, and when there is no agent.
   */
  readonly delegation?: Delegation;
  /** `act.sub` of the verified token (the outermost actor), as read: identification turns it into `agent`. */
  readonly actor?: string;
  /** The verified token's claims (claim headers read named ones from here). Never logged, never forwarded. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number;
  /**
   * The verified bearer token, kept only for RFC 8693 token exchange. Never forwarded upstream as is,
   * never logged, never put on a span.
   */
  readonly token: string;
}

/** Reads a referenced secret. Values are read once at load; a missing secret fails the load, not a request. */
export interface SecretReader {
  read(ref: SecretRef): string;
}

/** Everything derived from one bundle. Replaced atomically on reload; in-flight requests keep theirs. */
export interface ActiveConfig {
  readonly bundle: Bundle;
  /** `metadata.digest`, or the digest computed at load when the bundle carried none. */
  readonly digest: string;
  readonly secrets: SecretReader;
}

export interface RequestContext {
  readonly requestId: string;
  /** W3C trace id of the request's span, when tracing is on. */
  readonly traceId: string | undefined;
  readonly principal: Principal;
  readonly config: ActiveConfig;
  readonly audit: AuditLog;
  /** Cancelled when the client goes away or the server shuts down. */
  readonly cancellation: Cancellation;
}

export type HttpHandler = (ctx: RequestContext, req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Outcome of a rate-limit check, with the headers to send either way (RateLimit-* draft headers). */
export type LimitDecision =
  | { readonly allowed: true; readonly headers: Readonly<Record<string, string>> }
  | {
      readonly allowed: false;
      readonly retryAfterSeconds: number;
      readonly reason: string;
      readonly headers: Readonly<Record<string, string>>;
    };

/** Per-principal budgets. Keyed by the verified `sub`; the policy id comes from the bundle. */
export interface RateLimiter {
  /**
   * Checks the token budget is not spent and counts one request against the request budget. Synchronous
   * when the store is (memory): callers await only a promise.
   */
  admitRequest(principal: Principal, policyId: string): MaybePromise<LimitDecision>;
  /** Bills tokens reported by the provider (usage), after the response; never rejects. */
  recordTokens(principal: Principal, policyId: string, tokens: number): MaybePromise<void>;
  close(): Promise<void>;
}

/** What a guard did to a piece of text or JSON. `guard` names the rule, never the matched text. */
export type GuardOutcome<T> =
  | { readonly action: "allow"; readonly value: T; readonly redactions?: Readonly<Record<string, number>> }
  | { readonly action: "block"; readonly guard: string; readonly message: string };

/** The hook the MCP gateway calls around every tool call (arguments before, result after). */
export interface ToolCallGuard {
  beforeCall(
    ctx: RequestContext,
    tool: string,
    args: Record<string, unknown>,
  ): Promise<GuardOutcome<Record<string, unknown>>>;
  afterCall(ctx: RequestContext, tool: string, result: unknown): Promise<GuardOutcome<unknown>>;
  /**
   * Text that crosses the gateway outside a tool call: a prompt's messages and a resource's contents on their
   * way to the client, a sampling request on its way from an upstream to the client and the client's answer on
   * its way back. `item` names the prompt, resource or upstream in audit events.
   */
  guardContent(
    ctx: RequestContext,
    item: string,
    content: GuardedContent,
    value: unknown,
  ): Promise<GuardOutcome<unknown>>;
}

/** What {@link ToolCallGuard.guardContent} is looking at. */
export type GuardedContent = "prompt" | "resource" | "sampling request" | "sampling result";

/** A ToolCallGuard that changes nothing: used until guards are configured for MCP. */
export const passThroughToolGuard: ToolCallGuard = {
  beforeCall: async (_ctx, _tool, args) => ({ action: "allow", value: args }),
  afterCall: async (_ctx, _tool, result) => ({ action: "allow", value: result }),
  guardContent: async (_ctx, _item, _content, value) => ({ action: "allow", value }),
};
