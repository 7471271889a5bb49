/**
 * The operator console as the gateway process holds it: one decision ring for the process (fed by the audit
 * hook, kept across reloads), and a console handler built from the active bundle's `server.console`. The
 * admin port asks {@link GatewayConsole.handle} for every `/console` URL; with the console off it answers 404.
 *
 * The handler is rebuilt only when the console's own settings change on reload (its sign-in sessions live in
 * it); every page reads the runtime serving now, so a reload shows on the next page either way.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type ConsoleHandler, createConsole, createDecisionRing } from "../console/index.js";
import { healthOf } from "../console/health.js";
import type { AuditEvent } from "../observability/audit.js";
import type { ActiveRuntime } from "./active-runtime.js";

export interface GatewayConsole {
  /** The audit hook (`TelemetryOptions.onAudit`): every prepared audit event enters the decision ring (console on). */
  readonly onAudit: (event: AuditEvent) => void;
  /** Answers a `/console` URL of the admin port: the console when the serving bundle enables it, else 404. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** A bundle now serves (at start, and after every applied reload). */
  loaded(runtime: ActiveRuntime): void;
  /** A reload was rejected; the serving bundle stays, and the bundle page shows why. */
  reloadFailed(message: string): void;
}

/** @param source where the bundle is read from, as the operator would recognise it (file path). */
export function gatewayConsole(source: string, now: () => number = Date.now): GatewayConsole {
  const decisions = createDecisionRing();
  let runtime: ActiveRuntime | undefined;
  let loadedAt = new Date(now());
  let lastReloadError: { at: Date; message: string } | undefined;
  let handler: { settings: string; handle: ConsoleHandler } | undefined;

  const serving = (): ActiveRuntime => {
    if (!runtime) throw new Error("the console was asked for a page before the gateway loaded a bundle");
    return runtime;
  };

  function build(active: ActiveRuntime): void {
    const settings = active.config.bundle.server.console;
    if (!settings.enabled) {
      handler = undefined;
      return;
    }
    const clientSecret = settings.clientSecret ? active.config.secrets.read(settings.clientSecret) : undefined;
    // Compared, never shown: the secret is part of the settings a new handler is built for.
    const key = JSON.stringify([settings, clientSecret ?? null]);
    if (handler?.settings === key) return;
    const handle = createConsole({
      bundle: () => ({
        bundle: serving().config.bundle,
        digest: serving().config.digest,
        source,
        loadedAt,
        ...(lastReloadError ? { lastReloadError } : {}),
      }),
      tools: () => Promise.resolve(serving().mcp.listedTools()),
      health: () => healthOf(serving(), serving().llm.coolingDown()),
      limits: () => serving().limiter.usage(),
      decisions,
      signIn: {
        clientId: settings.clientId,
        url: settings.url,
        adminScope: settings.adminScope,
        ...(clientSecret !== undefined ? { clientSecret } : {}),
        ...(settings.adminGroup ? { adminGroup: settings.adminGroup } : {}),
      },
      now,
    });
    handler = { settings: key, handle };
  }

  return {
    // With the console off nothing reads the ring: events are not copied into it.
    onAudit: (event) => {
      if (handler) decisions.record(event);
    },
    async handle(req, res) {
      if (!handler) {
        res.writeHead(404).end();
        return;
      }
      await handler.handle(req, res);
    },
    loaded(active) {
      runtime = active;
      loadedAt = new Date(now());
      lastReloadError = undefined;
      build(active);
    },
    reloadFailed(message) {
      lastReloadError = { at: new Date(now()), message };
    },
  };
}
