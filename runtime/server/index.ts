/**
 * The gateway's HTTP server: loads a bundle, serves the well-known documents and probes, and runs the
 * request path for LLM routes and the MCP endpoint. The whole path is visible in `handle` below:
 *
 *   authenticate + identify (here) → authorize → limit → guard → forward → guard → record (in the handler)
 *
 * Hot reload swaps the {@link ActiveRuntime} atomically; a bundle that fails to load is reported and the
 * running one stays. `close()` is the graceful shutdown used on SIGTERM.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { formatIssue } from "../../policies/bundle/index.js";
import { type Authentication, authenticate } from "../auth/authenticate.js";
import { resourceMetadataUrl, sendInvalidToken, sendMissingToken } from "../auth/challenge.js";
import { describeSource, loadConfig } from "../config/load.js";
import { secretsDirectory } from "../config/secrets.js";
import { type FileWatcher, watchFiles } from "../config/watch.js";
import { ClientGone, RequestCancellation } from "../http/cancellation.js";
import { requestIdOf } from "../http/request-id.js";
import { andThen, stage } from "../http/stage.js";
import type { HttpHandler, Principal, RequestContext } from "../http/types.js";
import {
  ATTR,
  SpanKind,
  createTelemetry,
  withRequestTelemetry,
  withUpstreamPropagation,
} from "../observability/index.js";
import { memorySessionRecords } from "../mcp/session-records.js";
import { streamEventRetention } from "../mcp/session-events.js";
import { MemorySpendStore } from "../limits/spend-store.js";
import { type ActiveRuntime, createActiveRuntime, mcpSessionIdleMs } from "./active-runtime.js";
import { type GatewayOptions, GatewayStartError, type ReloadOutcome, type RunningGateway } from "./gateway.js";
import { answerPreflight, applyCors, isPreflight, originAllowed } from "./cors.js";
import { applyClientLimits, serverOptions } from "./options.js";
import { notReadyReasons } from "./readiness.js";
import { gatewayConsole } from "./console.js";

export { type GatewayOptions, GatewayStartError, type ReloadOutcome, type RunningGateway } from "./gateway.js";

/** A JSON response of the server's own, with the request's id. */
const json = (
  res: ServerResponse,
  requestId: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void => {
  const payload = JSON.stringify(body);
  res
    .writeHead(status, {
      "x-request-id": requestId,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(payload),
      ...headers,
    })
    .end(payload);
};

/**
 * The request's path. Plain absolute paths (the usual case) are cut at `?` without a URL parse; anything
 * else (absolute-form URLs, percent-escapes, dot segments, backslashes) is normalised by the WHATWG parser.
 */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@-]*)*\/?$/;
export function requestPath(url: string | undefined): string {
  const raw = url ?? "/";
  const query = raw.indexOf("?");
  const path = query < 0 ? raw : raw.slice(0, query);
  return PLAIN_PATH.test(path) ? path || "/" : new URL(raw, "http://gateway.invalid").pathname;
}

const SHUTTING_DOWN = new Error("the gateway is shutting down");

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const graceMs = options.shutdownGraceMs ?? 10_000;

  const first = await loadConfig(options.source, env);
  if (!first.ok) throw new GatewayStartError(first.source, first.issues);
  let loadedConfig: typeof first.config | undefined;
  // One decision ring per process: reloads keep the console's history.
  const operatorConsole = gatewayConsole(describeSource(options.source));
  // Tracing on/off and the exporter are fixed at start; prompt capture and metric labels follow reloads.
  const telemetry = createTelemetry(first.config.bundle.telemetry, {
    bundle: { bundle: first.config.bundle, digest: first.config.digest },
    capturePrompts: () => (loadedConfig ?? first.config).bundle.telemetry.audit.capturePrompts,
    ...(options.audit ? { auditSink: options.audit } : {}),
    onAudit: operatorConsole.onAudit,
    console: operatorConsole.handle,
    ...options.telemetry,
  });
  telemetry.metrics.bundleReload(true);
  const audit = telemetry.audit;
  // MCP sessions outlive a reload: each runtime resumes them from these records (or from Redis, when shared).
  // Their expiry is the first bundle's `mcp.sessions.idleMinutes`; a reload that changes it applies to the
  // sessions' upstream clients here and to Redis records, and to these records at the next start.
  const mcpSessionRecords = memorySessionRecords(
    mcpSessionIdleMs(first.config),
    Date.now,
    streamEventRetention(first.config.bundle.mcp),
  );
  // Spend counted in memory outlives a reload too: a new bundle must not reset the month's spend.
  const spendCounts = new MemorySpendStore();
  let current = await createActiveRuntime(first.config, {
    audit,
    metrics: telemetry.metrics,
    mcpSessionRecords,
    spendCounts,
    log,
    ...(options.verifier ? { verifierOptions: options.verifier } : {}),
  });
  let currentFingerprint = first.fingerprint;
  operatorConsole.loaded(current);
  await current.verifier.keys
    .load()
    .catch((error: unknown) =>
      log(
        `tollgate: issuer keys not fetched yet (${(error as Error).message}); /readyz reports not ready until they are`,
      ),
    );
  audit.record({
    kind: "config",
    decision: "allow",
    reason: `loaded ${describeSource(options.source)} (${first.config.digest})`,
  });

  const retiring = new Set<ActiveRuntime>();
  let stopping = false;
  /** Past the shutdown grace period: requests still in flight, and any that get this far, are cancelled. */
  let cancellingAll = false;

  /** Cancelled all at once on shutdown (one set instead of a listener per request on a shared signal). */
  const inFlight = new Set<RequestCancellation>();

  async function handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const runtime = current; // this request keeps the runtime it started with
    const bundle = runtime.config.bundle;
    const requestId = requestIdOf(req.headers);
    const mcpHandler = runtime.mcp.route(pathname);
    const handler: HttpHandler | undefined = mcpHandler ?? runtime.llm.route(pathname);
    // Every response carries x-request-id. An LLM route's handler writes it among its own headers
    // (ctx.requestId), and so do the server's own JSON answers: set ahead with setHeader, it would send every
    // header of the response through Node's slower setHeader path instead of writeHead's.
    // Everything else (the MCP transport, challenges, CORS answers) gets it here.
    const stampId = () => res.setHeader("x-request-id", requestId);
    if (mcpHandler) stampId();
    if (stopping) {
      json(res, requestId, 503, { error: "shutting down" }, { connection: "close" });
      return;
    }

    const corsAllowed = applyCors(req, res, bundle.server.corsOrigins);
    if (isPreflight(req)) {
      stampId();
      return answerPreflight(res, corsAllowed);
    }

    // Probes and well-known documents: no token.
    if (pathname === "/healthz") return json(res, requestId, 200, { status: "ok" });
    if (pathname === "/readyz") return json(res, requestId, ...(await readiness(runtime)));
    const prm = req.method === "GET" ? runtime.prm.get(pathname) : undefined;
    if (prm) return json(res, requestId, 200, prm, { "cache-control": "max-age=300" });
    if (req.method === "GET" && pathname === "/.well-known/oauth-authorization-server") {
      const metadata = await runtime.verifier.keys.metadata();
      return metadata
        ? json(res, requestId, 200, metadata, { "cache-control": "max-age=300" })
        : json(res, requestId, 503, { error: "authorization server metadata unavailable" });
    }

    if (!handler) return json(res, requestId, 404, { error: "not found" });
    if (!originAllowed(req, bundle.server.publicUrl, bundle.server.corsOrigins)) {
      audit.record({ kind: "auth", decision: "deny", reason: "origin not allowed", status: 403, requestId });
      return json(res, requestId, 403, { error: "origin not allowed" });
    }
    const declaredLength = Number(req.headers["content-length"] ?? 0);
    if (declaredLength > bundle.server.maxRequestBytes)
      return json(
        res,
        requestId,
        413,
        { error: `request body over ${bundle.server.maxRequestBytes} bytes` },
        { connection: "close" },
      );

    // A GET on an MCP path is the long-lived SSE stream: it does not hold a retiring runtime open.
    const release = mcpHandler && req.method === "GET" ? () => undefined : runtime.acquire();
    const cancellation = new RequestCancellation();
    const onClose = () => {
      if (!res.writableFinished) cancellation.cancel(new ClientGone());
    };
    res.once("close", onClose);
    try {
      // 1–2. Authenticate and identify: every request, every time (sessions are never credentials).
      // 3–8. Authorize, limit, guard, forward, guard, record: the route's handler, for the identified caller.
      const authentication = stage("authenticate", undefined, () =>
        authenticate(req, runtime.verifier, runtime.agents),
      );
      await andThen(authentication, (auth) => {
        if (auth.outcome !== "authenticated") return challenge(auth, req, res, requestId, pathname, bundle);
        if (cancellingAll) cancellation.cancel(SHUTTING_DOWN);
        inFlight.add(cancellation);
        const ctx = identify(auth.principal, requestId, runtime, cancellation);
        // MCP upstream requests are made by the SDK's transports, out of reach of ctx: they take the request id
        // and trace context from this scope. LLM provider requests carry them from ctx.
        return mcpHandler
          ? withUpstreamPropagation(requestId, req.headers, () => handler(ctx, req, res))
          : handler(ctx, req, res);
      });
    } catch (error) {
      // The request's own kind: a failure serving a request is not a configuration event.
      audit.record({
        kind: mcpHandler ? "mcp" : "llm",
        decision: "error",
        reason: `unhandled: ${(error as Error).message}`,
        status: 500,
        requestId,
      });
      if (!res.headersSent) json(res, requestId, 500, { error: "internal error", requestId });
      else res.end();
    } finally {
      inFlight.delete(cancellation);
      res.off("close", onClose);
      release();
    }
  }

  /** `/readyz`: the issuer's keys are fetched and every required upstream is up. */
  async function readiness(runtime: ActiveRuntime): Promise<[number, unknown]> {
    // Not ready yet: try again now, so readiness recovers without traffic (probes are the only traffic then).
    if (!runtime.verifier.keys.loaded) await runtime.verifier.keys.load().catch(() => undefined);
    const upstreams = await runtime.readiness.states();
    const reasons = notReadyReasons(runtime.verifier.keys.loaded, upstreams);
    const ready = reasons.length === 0;
    return [
      ready ? 200 : 503,
      {
        status: ready ? "ready" : "not ready",
        digest: runtime.config.digest,
        ...(ready ? {} : { reason: reasons.join("; ") }),
        ...(upstreams.length > 0 ? { upstreams } : {}),
      },
    ];
  }

  const tracing = telemetry.tracingEnabled;

  /** The request's context, from the verified principal only. */
  function identify(
    principal: Principal,
    requestId: string,
    runtime: ActiveRuntime,
    cancellation: RequestCancellation,
  ): RequestContext {
    if (tracing)
      telemetry.annotateActive({
        [ATTR.ENDUSER_ID]: principal.subject,
        [ATTR.CLIENT_ID]: principal.clientId,
        [ATTR.AGENT_ID]: principal.agent,
      });
    return {
      requestId,
      traceId: tracing ? telemetry.currentTraceId() : undefined,
      principal,
      config: runtime.config,
      audit,
      cancellation,
    };
  }

  /** 401 with the challenge that says where to get a token (missing) or what was wrong with it; recorded. */
  function challenge(
    auth: Exclude<Authentication, { outcome: "authenticated" }>,
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    pathname: string,
    bundle: ActiveRuntime["config"]["bundle"],
  ): void {
    const reason = auth.outcome === "missing" ? "no bearer token" : auth.reason;
    audit.record({ kind: "auth", decision: "deny", reason, status: 401, requestId, method: req.method ?? "" });
    const metadataUrl = resourceMetadataUrl(bundle, pathname);
    res.setHeader("x-request-id", requestId);
    if (auth.outcome === "missing") sendMissingToken(res, metadataUrl, bundle.protectedResource.scopesSupported);
    else sendInvalidToken(res, metadataUrl, auth.reason, auth.error);
  }
  const failed = (res: ServerResponse) => () => {
    if (!res.headersSent)
      res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: "internal error" }));
  };
  const server: Server = createServer(
    serverOptions(first.config.bundle.server.clients),
    tracing
      ? (req, res) => {
          // One server span per request (continuing an incoming traceparent); stages add child spans.
          const pathname = requestPath(req.url);
          const traced = () =>
            telemetry.withSpan(
              "tollgate.request",
              { "http.request.method": req.method, "url.path": pathname },
              async (s) => {
                await handle(req, res, pathname);
                s.setAttributes({ "http.response.status_code": res.statusCode });
              },
              { incomingHeaders: req.headers, kind: SpanKind.SERVER },
            );
          withRequestTelemetry(telemetry, traced).catch(failed(res));
        }
      : (req, res) => {
          // Tracing off: no span objects, no attribute maps, and no AsyncLocalStorage context (which would turn
          // on promise hooks for the whole process): LLM routes and the MCP gateway get their metrics from deps.
          const pathname = requestPath(req.url);
          handle(req, res, pathname).catch(failed(res));
        },
  );
  applyClientLimits(server, first.config.bundle.server.clients);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const metricsOptions = options.metricsServer === true ? {} : options.metricsServer || undefined;
  // A busy admin port must not take traffic down: report it and serve without /metrics.
  const metricsServer = metricsOptions
    ? await telemetry
        .serveMetrics({
          host: metricsOptions.host ?? options.host ?? "127.0.0.1",
          ...(metricsOptions.port !== undefined ? { port: metricsOptions.port } : {}),
        })
        .catch(
          (error: unknown) =>
            void log(
              `tollgate: metrics server not started (${(error as Error).message}); pick a free port with --metrics-port or TOLLGATE_METRICS_PORT (0: any), or "off"`,
            ),
        )
    : undefined;

  const adminOrigin = (port: number) => `http://${metricsOptions?.host ?? options.host ?? "127.0.0.1"}:${port}`;

  function retire(old: ActiveRuntime): void {
    retiring.add(old);
    void old
      .idle()
      .then(() => old.close())
      .finally(() => retiring.delete(old));
  }

  let reloading: Promise<ReloadOutcome> | undefined;
  async function doReload(): Promise<ReloadOutcome> {
    const loaded = await loadConfig(options.source, env);
    let outcome: ReloadOutcome;
    if (!loaded.ok) {
      outcome = { status: "rejected", issues: loaded.issues };
    } else if (loaded.fingerprint === currentFingerprint) {
      outcome = { status: "unchanged", digest: loaded.config.digest };
    } else {
      try {
        const next = await createActiveRuntime(loaded.config, {
          audit,
          metrics: telemetry.metrics,
          mcpSessionRecords,
          spendCounts,
          log,
          ...(options.verifier ? { verifierOptions: options.verifier } : {}),
        });
        await next.verifier.keys.load().catch(() => undefined);
        const old = current;
        current = next;
        currentFingerprint = loaded.fingerprint;
        operatorConsole.loaded(next);
        retire(old);
        outcome = { status: "applied", digest: loaded.config.digest };
      } catch (error) {
        outcome = {
          status: "rejected",
          issues: [{ path: "", message: `cannot start the new configuration: ${(error as Error).message}` }],
        };
      }
    }
    telemetry.metrics.bundleReload(outcome.status !== "rejected");
    if (outcome.status === "applied") {
      loadedConfig = current.config;
      telemetry.metrics.useBundle(current.config.bundle, outcome.digest);
      applyClientLimits(server, current.config.bundle.server.clients);
    }
    if (outcome.status === "rejected") {
      operatorConsole.reloadFailed(outcome.issues.map((i) => formatIssue(i)).join("; "));
      log(
        `tollgate: reload of ${describeSource(options.source)} rejected; still serving ${current.config.digest}\n${outcome.issues.map((i) => `  - ${formatIssue(i)}`).join("\n")}`,
      );
      audit.record({
        kind: "config",
        decision: "error",
        reason: `reload rejected: ${outcome.issues.map((i) => formatIssue(i)).join("; ")}`,
      });
    } else if (outcome.status === "applied") {
      audit.record({
        kind: "config",
        decision: "allow",
        reason: `reloaded ${describeSource(options.source)} (${outcome.digest})`,
      });
    }
    options.onReload?.(outcome);
    return outcome;
  }
  /** Reloads run one at a time; a reload requested during one runs after it. */
  function reload(): Promise<ReloadOutcome> {
    const run = (reloading ?? Promise.resolve()).catch(() => undefined).then(doReload);
    reloading = run.finally(() => {
      if (reloading === run) reloading = undefined;
    });
    return run;
  }

  let watcher: FileWatcher | undefined;
  if (options.source.kind === "files" && options.watch !== false) {
    const { bundleFile, valuesFile, overlayFile } = options.source;
    const secrets = secretsDirectory(env);
    watcher = watchFiles(
      [
        bundleFile,
        ...(valuesFile ? [valuesFile] : []),
        ...(overlayFile ? [overlayFile] : []),
        // Kubernetes updates a mounted Secret by swapping its `..data` link, which the watcher reacts to.
        ...(secrets ? [join(secrets, "..data")] : []),
      ],
      () => {
        if (!stopping) void reload();
      },
    );
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    stopping = true;
    watcher?.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const all = [current, ...retiring];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(all.map((r) => r.idle())),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    cancellingAll = true;
    for (const cancellation of inFlight) cancellation.cancel(SHUTTING_DOWN);
    await Promise.all(all.map((r) => r.close()));
    server.closeAllConnections();
    await closed;
    spendCounts.dispose();
    await telemetry.close();
  }

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    active: () => current,
    telemetry,
    metricsUrl: metricsServer ? `${adminOrigin(metricsServer.port)}/metrics` : undefined,
    consoleUrl: () =>
      metricsServer && current.config.bundle.server.console.enabled
        ? `${adminOrigin(metricsServer.port)}/console/`
        : undefined,
    reload,
    close: () => (closing ??= close()),
  };
}
