/**
 * What the console reads from the running gateway. Every member is a getter, asked per page, so a bundle
 * reload or a change of upstream health shows on the next page without the console holding any state of
 * its own besides the decision ring and the sign-in sessions.
 */
import type { Bundle } from "../../policies/bundle/index.js";
import type { BudgetUsage, PrincipalUsage } from "../limits/index.js";
import type { DecisionRing } from "./ring.js";

/** The bundle now serving, and how it came to be loaded. */
export interface LoadedBundleView {
  readonly bundle: Bundle;
  readonly digest: string;
  /** Where it was read from: a file path or a ConfigMap mount, as the operator would recognise it. */
  readonly source: string;
  readonly loadedAt: Date;
  /** The last reload that failed since this bundle was loaded (the bundle kept serving). */
  readonly lastReloadError?: { readonly at: Date; readonly message: string };
}

/** One MCP tool an upstream offers, by its own (not namespaced) name. */
export interface UpstreamTool {
  readonly upstream: string;
  readonly name: string;
}

/** The state of one MCP upstream or LLM provider, as the gateway last saw it. No URL, no command line. */
export interface UpstreamStatusView {
  readonly id: string;
  readonly kind: "mcp" | "llm";
  readonly state: "up" | "down" | "unknown" | "cooling-down";
  /** For LLM routes: the provider this line is about. */
  readonly provider?: string;
  /** Why it is not up. */
  readonly detail?: string;
  /** Failover skips a cooling-down provider until then. */
  readonly until?: Date;
}

/** `/readyz`'s answer and the upstreams behind it. */
export interface HealthView {
  readonly ready: boolean;
  /** Why the replica is not ready (empty when it is). */
  readonly reasons: readonly string[];
  readonly upstreams: readonly UpstreamStatusView[];
}

/** What one principal has spent of its rate-limit budgets: the limiter's own report. */
export type { BudgetUsage, PrincipalUsage };

/** Who may sign in to the console, and how it reaches the issuer. */
export interface ConsoleSignInConfig {
  /** The OAuth client the console signs in with (authorization code + PKCE). */
  readonly clientId: string;
  /** A confidential client's secret, already read from its secret reference. Never rendered or logged. */
  readonly clientSecret?: string;
  /**
   * The console's own external URL, ending in its mount path (e.g. `https://gateway-admin.example.com/console`).
   * The redirect URI is `${url}/callback`: it is configured, never taken from a request's Host header.
   */
  readonly url: string;
  /**
   * The scope an administrator's token must carry.
   * @default "tollgate:admin"
   */
  readonly adminScope?: string;
  /** Instead of (or besides) the scope: a claim holding group names, and the group that makes an admin. */
  readonly adminGroup?: { readonly claim: string; readonly group: string };
  /**
   * How long a console session lasts at most (it also ends when the admin's token expires).
   * @default 8 hours
   */
  readonly sessionTtlSeconds?: number;
}

export interface ConsoleDeps {
  readonly bundle: () => LoadedBundleView;
  /**
   * The tools the MCP upstreams offer, for the authority matrix. When absent (or an upstream was never
   * listed), the matrix shows the bundle's grant patterns instead of tool names.
   */
  readonly tools?: () => Promise<readonly UpstreamTool[]>;
  readonly health: () => Promise<HealthView>;
  /** Current usage per principal, from the limiter's store. */
  readonly limits: () => Promise<readonly PrincipalUsage[]>;
  /** Fed by the audit log's `onRecord` hook. */
  readonly decisions: DecisionRing;
  readonly signIn: ConsoleSignInConfig;
  /** @default Date.now */
  readonly now?: () => number;
}
