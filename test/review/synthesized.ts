/**
 * Real synthesized trees for the review tests: the default environment (stacks/, tollgate-dev) as it is
 * and with one change, and a small platform whose McpScopes construct can be renamed. Each variant is
 * `cdktf.out` as `cdktf synth` writes it, in a temporary directory.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider/index.js";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { App, TerraformStack } from "cdktf";
import {
  DESTRUCTIVE_TOOL_PATTERNS,
  GatewayBundle,
  GatewayDeployment,
  GatewayRoute,
  GuardPolicy,
  McpScopes,
  OktaApps,
} from "../../constructs/index.js";
import { EnvironmentStack } from "../../stacks/environment-stack.js";
import { ENVIRONMENTS } from "../../stacks/environments.js";

export const DEV_STACK = ENVIRONMENTS.dev.stackName;

/** A scratch directory and the paths the tests need in it. */
export class Trees {
  readonly root = mkdtempSync(join(tmpdir(), "tollgate-review-"));

  path(name: string): string {
    return join(this.root, name);
  }

  /** `cdktf.out/stacks/<stack>/<file>` of a variant. */
  stackFile(name: string, stack: string, file: string): string {
    return join(this.root, name, "stacks", stack, file);
  }

  /** The default environment, changed by `change` before synth. */
  environment(name: string, change: (stack: EnvironmentStack) => void = () => {}): string {
    const app = new App({ outdir: this.path(name) });
    change(new EnvironmentStack(app, ENVIRONMENTS.dev));
    app.synth();
    return this.path(name);
  }

  /** A small platform (Okta apps, scopes, one MCP upstream); `scopesId` is the McpScopes construct ID. */
  small(name: string, scopesId = "Scopes"): string {
    const app = new App({ outdir: this.path(name) });
    const stack = new TerraformStack(app, "tollgate-small");
    new OktaProvider(stack, "okta", { orgName: "acme", baseUrl: "okta.com" });
    new KubernetesProvider(stack, "kubernetes", { configPath: "~/.kube/config" });
    const okta = new OktaApps(stack, "Okta", {
      name: "tollgate-small",
      gatewayUri: "https://gw.acme.example",
      userApp: { redirectUris: ["https://app.acme.example/callback"] },
    });
    const scopes = new McpScopes(stack, scopesId, { authServer: okta });
    const docs = GatewayRoute.mcp(stack, "Docs", { upstreamId: "docs", url: "https://docs.acme.example/mcp" });
    scopes.grantTools("mcp:read", docs, "get_*", "search_*");
    const policy = new GuardPolicy(stack, "Default", {
      alwaysBlockedTools: [{ upstream: "*", tools: DESTRUCTIVE_TOOL_PATTERNS, reason: "destructive" }],
    });
    policy.applyTo(docs);
    const bundle = new GatewayBundle(stack, "GatewayBundle", {
      name: "gateway",
      environment: "dev",
      authServer: okta,
      clients: okta,
      routes: [docs],
      scopes,
      defaultPolicy: policy,
    });
    new GatewayDeployment(stack, "Gateway", {
      bundle,
      image: { repository: "ghcr.io/acme/tollgate", tag: "dev" },
      replicas: 1,
    });
    app.synth();
    return this.path(name);
  }

  /** A copy of a variant whose bundle file is edited by `edit` (the digest left as it was). */
  editBundle(from: string, name: string, stack: string, edit: (bundle: Record<string, any>) => void): string {
    cpSync(this.path(from), this.path(name), { recursive: true });
    const file = this.stackFile(name, stack, "gateway.bundle.json");
    const bundle = JSON.parse(readFileSync(file, "utf8")) as Record<string, any>;
    edit(bundle);
    writeFileSync(file, `${JSON.stringify(bundle, null, 2)}\n`);
    return this.path(name);
  }

  /** A copy of a variant whose stack's cdk.tf.json is edited by `edit`. */
  editTerraform(from: string, name: string, stack: string, edit: (tf: Record<string, any>) => void): string {
    cpSync(this.path(from), this.path(name), { recursive: true });
    const file = this.stackFile(name, stack, "cdk.tf.json");
    const tf = JSON.parse(readFileSync(file, "utf8")) as Record<string, any>;
    edit(tf);
    writeFileSync(file, `${JSON.stringify(tf, null, 2)}\n`);
    return this.path(name);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
