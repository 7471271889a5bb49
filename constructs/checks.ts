/**
 * Organisation-wide synth-time checks with rule IDs (the registry is ./rules.ts). An error finding fails
 * `cdktf synth`; a finding can be suppressed on a construct (and everything under it) only with a written
 * reason, which stays visible as an info annotation.
 *
 * The checks run as a validation on each stack that holds a Tollgate construct, not as a cdktf Aspect:
 * cdktf keeps a stack's aspects under a module-private symbol, so aspects added through Tollgate's copy of
 * cdktf are never run by an app's own copy (a linked install, a workspace), and the checks would vanish
 * without a word. Validations live on the construct node, which every copy calls. If validations do not run
 * at all (`new App({ skipValidation: true })`), synth fails instead of passing unchecked.
 */
import type { IStackSynthesizer, ISynthesisSession } from "cdktf";
import { TerraformStack } from "cdktf";
import type { IConstruct } from "constructs";
import { grantsDestructiveTool } from "../policies/tools/pattern.js";
import { findKnownCredential } from "../policies/secrets/known-formats.js";
import { kindOf, type TollgateKind } from "./construct-kind.js";
import { isPinned, type ContainerImage } from "./container-image.js";
import { isDevEnvironment } from "./environment.js";
import { DESTRUCTIVE_TOOL_PATTERNS } from "./destructive-tools.js";
import { RULES, isRuleId, type RuleId } from "./rules.js";

export { RULES, type RuleId } from "./rules.js";

const SUPPRESSION_KEY = "tollgate:suppress";
const CHECKS_KEY = Symbol.for("tollgate.stack-checks");
const SECRET_LIKE_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL|AUTH)/i;

/** What the checks read of each kind of construct (the constructs satisfy these structurally). */
interface RouteView {
  readonly kind: "llm" | "mcp";
  readonly routeId: string;
  readonly requireAuthentication: boolean;
  readonly upstreamUrls: readonly string[];
}
interface ScopesView {
  readonly names: readonly string[];
  readonly privileged: readonly string[];
  readonly consent: Readonly<Record<string, string>>;
  readonly grants: readonly {
    readonly scope: string;
    readonly upstream: { readonly upstreamId: string };
    readonly tools: readonly string[];
  }[];
}
interface PolicyView {
  readonly alwaysBlocked: readonly { readonly tools: readonly string[] }[];
}
interface BundleView {
  readonly environment: string;
  readonly routes: readonly (IConstruct & RouteView)[];
  readonly scopes: IConstruct | undefined;
}
interface DeploymentView {
  readonly environment: string;
  readonly image: ContainerImage;
  readonly replicas: number;
  readonly sharedLimits: boolean;
  readonly mcpUrl: string | undefined;
  readonly redisImage: ContainerImage | undefined;
}
interface AgentView {
  readonly agentId: string;
  readonly scopes: readonly string[];
  readonly scopeSet: { readonly names: readonly string[] };
  readonly gateway: { readonly agents: readonly (IConstruct & { readonly agentId: string })[] };
  readonly runtime: { readonly runtimeName: string; readonly requestHeaderAllowlist: readonly string[] };
}
interface RuntimeView {
  readonly environment: string;
  readonly environmentVariables: Readonly<Record<string, string>>;
  readonly imagePinned: boolean;
}

export class TollgateChecks {
  /**
   * Makes sure the checks run when `scope`'s stack is synthesized. Every Tollgate construct calls this in
   * its constructor; calling it again, or from another copy of Tollgate, adds nothing.
   */
  public static ensureOn(scope: IConstruct): void {
    const stack = TerraformStack.of(scope);
    const slot = stack as unknown as Record<symbol, TollgateChecks | undefined>;
    if (slot[CHECKS_KEY]) return;
    const checks = new TollgateChecks(stack);
    Object.defineProperty(stack, CHECKS_KEY, { value: checks, enumerable: false });
    stack.node.addValidation({ validate: () => checks.run() });
    const inner: IStackSynthesizer = stack.synthesizer;
    stack.synthesizer = {
      synthesize(session: ISynthesisSession): void {
        inner.synthesize(session);
        if (!checks.ran) {
          throw new Error(
            `Tollgate's synth checks did not run for stack "${stack.node.id}": the app skipped validation ` +
              `(new App({ skipValidation: true }) or --skip-validation?). Tollgate does not synthesize an unchecked ` +
              `platform: remove skipValidation.`,
          );
        }
      },
    };
  }

  /**
   * Suppresses `rule` on `construct` and its children. The reason is mandatory and is reported.
   * @throws when the rule does not exist, cannot be suppressed, or the reason is too short to mean anything
   */
  public static suppress(construct: IConstruct, rule: RuleId, reason: string): void {
    if (!isRuleId(rule))
      throw new Error(`TollgateChecks.suppress: unknown rule "${rule}" (known: ${Object.keys(RULES).join(", ")})`);
    if (!RULES[rule].suppressible)
      throw new Error(`TollgateChecks.suppress(${construct.node.path}, ${rule}): ${rule} cannot be suppressed`);
    if (reason.trim().length < 10) {
      throw new Error(
        `TollgateChecks.suppress(${construct.node.path}, ${rule}): a suppression needs a reason (at least 10 characters) saying why it is safe`,
      );
    }
    construct.node.addMetadata(SUPPRESSION_KEY, { rule, reason: reason.trim() });
  }

  /** Whether the checks have run on this stack (they run once, at its validation). */
  private ran = false;

  private constructor(private readonly stack: TerraformStack) {}

  /** Runs every rule over the stack and reports the findings as annotations on the constructs they concern. */
  private run(): string[] {
    if (this.ran) return [];
    this.ran = true;
    const byKind = new Map<TollgateKind, IConstruct[]>();
    for (const node of this.stack.node.findAll()) {
      const kind = kindOf(node);
      if (kind) byKind.set(kind, [...(byKind.get(kind) ?? []), node]);
    }
    const all = <V>(kind: TollgateKind) => (byKind.get(kind) ?? []) as (IConstruct & V)[];
    const blocked = [
      ...DESTRUCTIVE_TOOL_PATTERNS,
      ...all<PolicyView>("GuardPolicy").flatMap((p) => p.alwaysBlocked.flatMap((b) => b.tools)),
    ];
    const bundles = all<BundleView>("GatewayBundle");
    for (const route of all<RouteView>("GatewayRoute")) this.checkRoute(route);
    for (const scopes of all<ScopesView>("McpScopes")) this.checkScopes(scopes, blocked, bundles);
    for (const bundle of bundles) this.checkBundle(bundle);
    for (const deployment of all<DeploymentView>("GatewayDeployment")) this.checkDeployment(deployment);
    for (const runtime of all<RuntimeView>("AgentCoreRuntime")) this.checkRuntime(runtime);
    this.checkAgents(all<AgentView>("Agent"));
    return [];
  }

  private checkRoute(route: IConstruct & RouteView): void {
    if (!route.requireAuthentication) {
      report(
        route,
        "TG-AUTH-001",
        `route "${route.routeId}" sets requireAuthentication: false: every route must verify the caller's token`,
      );
    }
  }

  private checkScopes(
    scopes: IConstruct & ScopesView,
    blocked: readonly string[],
    bundles: readonly (IConstruct & BundleView)[],
  ): void {
    for (const name of scopes.privileged) {
      if (scopes.consent[name] !== undefined && scopes.consent[name] !== "REQUIRED") {
        report(
          scopes,
          "TG-SCOPE-001",
          `scope "${name}" is privileged but its consent is ${scopes.consent[name]}: set consent "REQUIRED" in McpScopes({ scopes })`,
        );
      }
    }
    const carried = new Set(
      bundles
        .filter((b) => b.scopes === scopes)
        .flatMap((b) => b.routes.filter((r) => r.kind === "mcp").map((r) => r.routeId)),
    );
    for (const grant of scopes.grants) {
      const call = `grantTools("${grant.scope}", "${grant.upstream.upstreamId}", ...)`;
      if (!scopes.names.includes(grant.scope)) {
        report(
          scopes,
          "TG-SCOPE-002",
          `${call}: scope "${grant.scope}" does not exist (scopes: ${scopes.names.join(", ")})`,
        );
      }
      if (!carried.has(grant.upstream.upstreamId)) {
        report(
          scopes,
          "TG-GRANT-001",
          `${call}: no gateway carries upstream "${grant.upstream.upstreamId}", so the grant would silently do nothing while its scope is still issued: pass this McpScopes as \`scopes\` and the route in \`routes\` of the GatewayBundle (or GatewayDeployment)`,
        );
      }
      for (const pattern of grant.tools) {
        if (grantsDestructiveTool(pattern, blocked)) {
          report(
            scopes,
            "TG-TOOL-001",
            `grantTools("${grant.scope}", "${grant.upstream.upstreamId}", "${pattern}") grants a destructive tool: destructive tools are never granted (they stay always-blocked)`,
          );
        }
      }
    }
  }

  private checkBundle(bundle: IConstruct & BundleView): void {
    if (isDevEnvironment(bundle.environment)) return;
    for (const route of bundle.routes) {
      for (const url of route.upstreamUrls) {
        if (url.startsWith("http:"))
          report(
            route,
            "TG-NET-001",
            `route "${route.routeId}" calls ${url} over plain http in "${bundle.environment}": use https`,
          );
      }
    }
  }

  private checkDeployment(gateway: IConstruct & DeploymentView): void {
    if (gateway.replicas > 1 && !gateway.sharedLimits) {
      report(
        gateway,
        "TG-LIMIT-001",
        `${gateway.replicas} replicas keep separate in-memory rate-limit budgets (each user gets up to ${gateway.replicas}× the limit): set GatewayBundle({ rateLimitStore: { type: "redis" } }) to share them`,
      );
    }
    if (gateway.replicas > 1 && !gateway.sharedLimits && gateway.mcpUrl !== undefined) {
      report(
        gateway,
        "TG-SESSION-001",
        `${gateway.replicas} replicas keep MCP sessions in their own memory, so a session opened on one is unknown to the others (404): set GatewayBundle({ rateLimitStore: { type: "redis" } }), where sessions are shared too`,
      );
    }
    if (isDevEnvironment(gateway.environment)) return;
    if (!isPinned(gateway.image)) {
      report(
        gateway,
        "TG-IMG-001",
        `gateway image ${gateway.image.repository} is not pinned by digest in "${gateway.environment}": set GatewayDeployment({ image: { digest: "sha256:..." } })`,
      );
    }
    if (gateway.redisImage && !isPinned(gateway.redisImage)) {
      report(
        gateway,
        "TG-IMG-001",
        `Redis image ${gateway.redisImage.repository} is not pinned by digest in "${gateway.environment}": set GatewayDeployment({ redis: { image: { digest } } })`,
      );
    }
  }

  private checkAgents(agents: readonly (IConstruct & AgentView)[]): void {
    for (const agent of agents) {
      // The gateway's own list: a GatewayDeployment and its GatewayBundle share one.
      const first = agent.gateway.agents.find((other) => other.agentId === agent.agentId);
      if (first && first !== agent)
        report(
          agent,
          "TG-AGENT-002",
          `agent "${agent.agentId}" is also ${first.node.path}: audit, limits and grants could not tell them apart: give each agent its own agentId`,
        );
      for (const scope of agent.scopes.filter((s) => !agent.scopeSet.names.includes(s)))
        report(
          agent,
          "TG-AGENT-001",
          `agent "${agent.agentId}" lists scope "${scope}", which its scope set does not hold (scopes: ${agent.scopeSet.names.join(", ")}): add the scope to McpScopes or remove it from Agent({ scopes })`,
        );
      if (!agent.runtime.requestHeaderAllowlist.some((h) => h.toLowerCase() === "authorization"))
        report(
          agent,
          "TG-AGENT-003",
          `agent "${agent.agentId}": runtime ${agent.runtime.runtimeName} passes ${agent.runtime.requestHeaderAllowlist.join(", ") || "no header"} through, not Authorization, so the agent never sees the user's token and cannot act for them: add "Authorization" to requestHeaderAllowlist`,
        );
    }
  }

  private checkRuntime(runtime: IConstruct & RuntimeView): void {
    for (const [name, value] of Object.entries(runtime.environmentVariables)) {
      const format = findKnownCredential(value);
      if (SECRET_LIKE_NAME.test(name) || format) {
        report(
          runtime,
          "TG-ENV-001",
          `environment variable ${name} ${format ? `holds a ${format.description}` : "has a secret-like name"}: the agent runtime gets only gateway URLs; secrets stay in the gateway`,
        );
      }
    }
    if (!isDevEnvironment(runtime.environment) && !runtime.imagePinned) {
      report(
        runtime,
        "TG-IMG-001",
        `agent image is not pinned by digest in "${runtime.environment}": set AgentCoreRuntime({ imageDigest: "sha256:..." })`,
      );
    }
  }
}

/**
 * The one way a finding is reported: suppressed (info, with its reason), or an annotation of the rule's
 * severity on the construct it concerns. Annotations are node metadata, which every copy of cdktf reads.
 */
export function report(node: IConstruct, rule: RuleId, message: string): void {
  const definition = RULES[rule];
  const suppression = definition.suppressible ? suppressionFor(node, rule) : undefined;
  if (suppression !== undefined) {
    node.node.addMetadata(ANNOTATION.info, `[${rule}] suppressed: ${suppression} (finding: ${message})`);
    return;
  }
  node.node.addMetadata(ANNOTATION[definition.severity], `[${rule}] ${definition.title}: ${message}`, {
    stackTrace: false,
  });
}

/** cdktf's annotation metadata types (what `Annotations.of(node).addError/addWarning/addInfo` write). */
const ANNOTATION = { error: "@cdktf/error", warning: "@cdktf/warn", info: "@cdktf/info" } as const;

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
export function synthErrors(root: IConstruct): string[] {
  return root.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === ANNOTATION.error).map((m) => String(m.data)));
}
