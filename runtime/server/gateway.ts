/**
 * What `startGateway` (./index.ts) takes and gives back: its options, the running gateway, the outcome of
 * a reload, and the error of a bundle that cannot be loaded at start.
 */
import { type BundleIssue, formatIssue } from "../../policies/bundle/index.js";
import type { TokenVerifierOptions } from "../auth/verifier.js";
import type { BundleSource } from "../config/load.js";
import type { Environment } from "../config/secrets.js";
import type { AuditLog } from "../observability/audit.js";
import type { Telemetry, TelemetryOptions } from "../observability/index.js";
import type { ActiveRuntime } from "./active-runtime.js";

export interface GatewayOptions {
  readonly source: BundleSource;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** @default 8080; 0 picks a free port */
  readonly port?: number;
  /** Where secrets referenced as `{ env }` are read. @default process.env */
  readonly env?: Environment;
  /** @default audit lines on stdout */
  readonly audit?: AuditLog;
  /** Watch the bundle, values and overlay files and reload on change (file sources only). @default true */
  readonly watch?: boolean;
  /** How long shutdown waits for in-flight requests before closing connections. @default 10000 */
  readonly shutdownGraceMs?: number;
  /** Called after every reload attempt (tests wait on it; watchers get their outcome here). */
  readonly onReload?: (outcome: ReloadOutcome) => void;
  /** Where load problems are reported. @default stderr */
  readonly log?: (line: string) => void;
  /** Key fetching options (timeouts; a custom fetch). */
  readonly verifier?: TokenVerifierOptions;
  /**
   * Serve Prometheus /metrics on the admin port (`telemetry.metrics.port`, or `port` here; 0 = any), on
   * `host` (default: the gateway's host). A `port` here serves even when the bundle turns metrics off. Off
   * by default so tests never fight over the fixed port; `tollgate serve` turns it on unless told `off`.
   */
  readonly metricsServer?: boolean | { readonly port?: number; readonly host?: string };
  /** Telemetry overrides (tests: an in-memory span exporter). */
  readonly telemetry?: Pick<TelemetryOptions, "spanExporter" | "auditDestination" | "defaultMetrics">;
}

export type ReloadOutcome =
  | { readonly status: "applied"; readonly digest: string }
  | { readonly status: "unchanged"; readonly digest: string }
  | { readonly status: "rejected"; readonly issues: readonly BundleIssue[] };

export interface RunningGateway {
  /** `http://host:port` the server listens on. */
  readonly url: string;
  readonly port: number;
  /** The runtime serving new requests now. */
  active(): ActiveRuntime;
  /** Audit, metrics and tracing of this gateway. */
  readonly telemetry: Telemetry;
  /** `http://host:port/metrics` of the admin server, when it runs. */
  readonly metricsUrl: string | undefined;
  /**
   * `http://host:port/console/` on the admin server, when it runs and the serving bundle enables the console
   * (local address: the console signs in through `server.console.url`, its public URL).
   */
  consoleUrl(): string | undefined;
  /** Loads the source again; a failure is reported and leaves the running configuration in place. */
  reload(): Promise<ReloadOutcome>;
  /** Graceful shutdown: stop accepting, finish in-flight requests, close upstream sessions. */
  close(): Promise<void>;
}

/** Thrown by {@link startGateway} when the bundle cannot be loaded at start. */
export class GatewayStartError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly BundleIssue[],
  ) {
    super(`${source}: cannot load the gateway bundle\n${issues.map((i) => `  - ${formatIssue(i)}`).join("\n")}`);
  }
}
