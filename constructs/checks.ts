/**
 * Organisation-wide synth-time checks, as a cdktf Aspect with rule IDs. An error annotation fails
 * `cdktf synth`. A finding can be suppressed on a construct (and everything under it) only with a
 * written reason, which stays visible as an info annotation.
 */
import { type IConstruct, Construct } from "constructs";
import { Annotations, Aspects, type IAspect, TerraformStack } from "cdktf";
import { findKnownCredential } from "../policies/secrets/known-formats.js";
import { AgentCoreRuntime } from "./agentcore-runtime.js";
import { isPinned } from "./container-image.js";
import { GatewayDeployment } from "./gateway-deployment.js";
import { GatewayRoute } from "./gateway-route.js";
import { DESTRUCTIVE_TOOL_PATTERNS, GuardPolicy } from "./guard-policy.js";
import { McpScopes } from "./mcp-scopes.js";

/** The rules, with the one-line statement each enforces. */
export const RULES = {
  "TG-SCOPE-001": "privileged scope without consent REQUIRED",
  "TG-SCOPE-002": "a tool rule references a scope that does not exist",
  "TG-TOOL-001": "a destructive tool is granted",
  "TG-ENV-001": "the agent runtime's environment holds something secret-like",
  "TG-AUTH-001": "a gateway route does not require authentication",
  "TG-IMG-001": "a non-dev image is not pinned by digest",
  "TG-NET-001": "a non-dev gateway calls an upstream over plain http",
} as const;
export type RuleId = keyof typeof RULES;

const SUPPRESSION_KEY = "tollgate:suppress";
const SECRET_LIKE_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL|AUTH)/i;

/** `dev`, `local` and `dev-*` environments may use tags and plain http; everything else may not. */
export function isDevEnvironment(environment: string): boolean {
  return environment === "dev" || environment === "local" || environment.startsWith("dev-");
}

/** Glob match with `*` wildcards only (the bundle's tool pattern syntax). */
export function globMatches(pattern: string, name: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, "\\$&"))
      .join(".*")}$`,
  );
  return regex.test(name);
}

/** True when a grant pattern names a destructive tool (wildcards aside); `*` alone does not. */
export function grantsDestructiveTool(pattern: string, blocked: readonly string[]): boolean {
  const literal = pattern.replaceAll("*", "");
  return literal.length > 0 && blocked.some((b) => globMatches(b, literal) || globMatches(b, pattern));
}

export class TollgateChecks implements IAspect {
  /** Adds the checks to `stack` once (constructs call this; calling it again is harmless). */
  public static ensureOn(stack: TerraformStack): void {
    if (!Aspects.of(stack).all.some((a) => a instanceof TollgateChecks)) Aspects.of(stack).add(new TollgateChecks());
  }

  /**
   * Suppresses `rule` on `construct` and its children. The reason is mandatory and is reported.
   * @throws when the reason is empty or too short to mean anything
   */
  public static suppress(construct: IConstruct, rule: RuleId, reason: string): void {
    if (!(rule in RULES))
      throw new Error(`TollgateChecks.suppress: unknown rule "${rule}" (known: ${Object.keys(RULES).join(", ")})`);
    if (reason.trim().length < 10) {
      throw new Error(
        `TollgateChecks.suppress(${construct.node.path}, ${rule}): a suppression needs a reason (at least 10 characters) saying why it is safe`,
      );
    }
    construct.node.addMetadata(SUPPRESSION_KEY, { rule, reason: reason.trim() });
  }

  public visit(node: IConstruct): void {
    if (node instanceof McpScopes) this.checkScopes(node);
    else if (node instanceof GatewayRoute) {
      if (!node.requireAuthentication)
        this.report(
          node,
          "TG-AUTH-001",
          `route "${node.routeId}" sets requireAuthentication: false: every route must verify the caller's token`,
        );
    } else if (node instanceof GatewayDeployment) this.checkGateway(node);
    else if (node instanceof AgentCoreRuntime) this.checkRuntime(node);
  }

  private checkScopes(scopes: McpScopes): void {
    for (const name of scopes.privileged) {
      if (scopes.consent[name] !== undefined && scopes.consent[name] !== "REQUIRED") {
        this.report(
          scopes,
          "TG-SCOPE-001",
          `scope "${name}" is privileged but its consent is ${scopes.consent[name]}: set consent "REQUIRED" in McpScopes({ scopes })`,
        );
      }
    }
    const blocked = [
      ...DESTRUCTIVE_TOOL_PATTERNS,
      ...TerraformStack.of(scopes)
        .node.findAll()
        .filter((c): c is GuardPolicy => c instanceof GuardPolicy)
        .flatMap((p) => p.alwaysBlocked.flatMap((b) => b.tools)),
    ];
    for (const grant of scopes.grants) {
      if (!scopes.names.includes(grant.scope)) {
        this.report(
          scopes,
          "TG-SCOPE-002",
          `grantTools("${grant.scope}", "${grant.upstream.upstreamId}", ...): scope "${grant.scope}" does not exist (scopes: ${scopes.names.join(", ")})`,
        );
      }
      for (const pattern of grant.tools) {
        if (grantsDestructiveTool(pattern, blocked)) {
          this.report(
            scopes,
            "TG-TOOL-001",
            `grantTools("${grant.scope}", "${grant.upstream.upstreamId}", "${pattern}") grants a destructive tool: destructive tools are never granted (they stay always-blocked)`,
          );
        }
      }
    }
  }

  private checkGateway(gateway: GatewayDeployment): void {
    if (gateway.replicas > 1 && !gateway.sharedLimits) {
      Annotations.of(gateway).addWarning(
        `[TG-LIMIT-001] ${gateway.replicas} replicas keep separate in-memory rate-limit budgets (each user gets up to ${gateway.replicas}× the limit): set GatewayDeployment({ rateLimitStore: { type: "redis" } }) to share them`,
      );
    }
    if (isDevEnvironment(gateway.environment)) return;
    if (!isPinned(gateway.image)) {
      this.report(
        gateway,
        "TG-IMG-001",
        `gateway image ${gateway.image.repository} is not pinned by digest in "${gateway.environment}": set GatewayDeployment({ image: { digest: "sha256:..." } })`,
      );
    }
    if (gateway.redis && !isPinned(gateway.redis.image)) {
      this.report(
        gateway,
        "TG-IMG-001",
        `Redis image ${gateway.redis.image.repository} is not pinned by digest in "${gateway.environment}": set rateLimitStore.deploy.image.digest`,
      );
    }
    for (const route of gateway.routes) {
      for (const url of route.upstreamUrls) {
        if (url.startsWith("http:"))
          this.report(
            route,
            "TG-NET-001",
            `route "${route.routeId}" calls ${url} over plain http in "${gateway.environment}": use https`,
          );
      }
    }
  }

  private checkRuntime(runtime: AgentCoreRuntime): void {
    for (const [name, value] of Object.entries(runtime.environmentVariables)) {
      const format = findKnownCredential(value);
      if (SECRET_LIKE_NAME.test(name) || format) {
        this.report(
          runtime,
          "TG-ENV-001",
          `environment variable ${name} ${format ? `holds a ${format.description}` : "has a secret-like name"}: the agent runtime gets only gateway URLs; secrets stay in the gateway`,
        );
      }
    }
    if (!isDevEnvironment(runtime.environment) && !runtime.imagePinned) {
      this.report(
        runtime,
        "TG-IMG-001",
        `agent image is not pinned by digest in "${runtime.environment}": set AgentCoreRuntime({ imageDigest: "sha256:..." })`,
      );
    }
  }

  private report(node: IConstruct, rule: RuleId, message: string): void {
    const suppression = suppressionFor(node, rule);
    if (suppression) {
      Annotations.of(node).addInfo(`[${rule}] suppressed: ${suppression} (finding: ${message})`);
      return;
    }
    Annotations.of(node).addError(`[${rule}] ${RULES[rule]}: ${message}`);
  }
}

function suppressionFor(node: IConstruct, rule: RuleId): string | undefined {
  for (const scope of [...node.node.scopes].reverse()) {
    for (const entry of scope.node.metadata) {
      const data = entry.data as { rule?: string; reason?: string } | undefined;
      if (entry.type === SUPPRESSION_KEY && data?.rule === rule) return data.reason;
    }
  }
  return undefined;
}

/** Error annotations (rule findings and others) on `root` and below: what would fail `cdktf synth`. */
export function synthErrors(root: Construct): string[] {
  return root.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === "@cdktf/error").map((m) => String(m.data)));
}
