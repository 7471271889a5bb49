/**
 * What `tollgate diff` compares and what it reports. Pure data: the CLI reads files into a
 * {@link Synthesis}, {@link diffSyntheses} returns a {@link ReviewReport}, renderers print it.
 */
import type { SynthBundle } from "../bundle/index.js";

/** One side of the comparison: every stack of a `cdktf.out` directory, or one bundle file. */
export interface Synthesis {
  readonly stacks: readonly StackSynthesis[];
}

export interface StackSynthesis {
  /** Stack name (`cdktf.out/stacks/<name>`), or the bundle's `metadata.stack` for a lone bundle file. */
  readonly name: string;
  /** The stack's `cdk.tf.json`; absent when a side is a lone bundle file. */
  readonly terraform?: TerraformJson;
  readonly bundles: readonly SynthBundle[];
  /** Bundle files whose digest does not match their content, found by the reader. */
  readonly tamper?: readonly TamperFinding[];
}

/** A bundle that is not what synth wrote, or not what Terraform will deploy. */
export interface TamperFinding {
  readonly side: "base" | "head";
  /** The file, or `<stack>: <ConfigMap address>`. */
  readonly where: string;
  readonly message: string;
}

/** The part of a synthesized `cdk.tf.json` the review reads. */
export interface TerraformJson {
  readonly resource?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
}

/** The part of `terraform show -json plan.tfplan` the review reads. */
export interface TerraformPlanJson {
  readonly resource_changes?: readonly {
    readonly address: string;
    readonly previous_address?: string;
    readonly type: string;
    readonly provider_name?: string;
    readonly action_reason?: string;
    readonly change: { readonly actions: readonly string[]; readonly replace_paths?: readonly unknown[] };
  }[];
}

/** Known tool names per upstream id (`--tools catalog.json`): synth only knows patterns. */
export type ToolCatalog = Readonly<Record<string, readonly string[]>>;

/** A concrete tool name, or every tool a granted pattern names (what synth knows without a catalogue). */
export type ToolMatch = "tool" | "pattern";

/** How an agent holds a token: alone (client credentials), acting for a user, or either way alike. */
export type AgentActing = "alone" | "for-user" | "both";

/** Widening grants or exposes more; narrowing takes some away; neutral changes neither. */
export type Effect = "widening" | "narrowing" | "neutral";

/** Guard strictness, weakest first: off < log < mask < block. */
export type GuardLevel = "off" | "log" | "mask" | "block";
export type GuardName = "pii" | "promptInjection" | "credentialLeak";

/** A budget: `perWindow` units every `windowSeconds`; `null` means unlimited. */
export type Budget = { readonly perWindow: number; readonly windowSeconds: number } | null;

/** A spend budget as the review shows it (its id is the change's `budget`). */
export interface SpendBudgetView {
  readonly per: "user" | "agent" | "route";
  readonly agent?: string;
  readonly route?: string;
  readonly window: "day" | "month" | { readonly seconds: number };
  readonly maxUsd: number;
}

/** A model's effective price, US dollars per million tokens. */
export interface SpendPriceView {
  readonly input: number;
  readonly cachedInput: number;
  readonly cacheWrite: number;
  readonly output: number;
}

interface ChangeBase {
  readonly effect: Effect;
  /** `<stack>/<gateway>` or, for Okta client changes, the stack name. */
  readonly gateway: string;
  /** One sentence a reviewer reads, e.g. "mcp:write can now call github__create_pull_request". */
  readonly summary: string;
}

/** Every kind of change the review classifies. */
export type Change = ChangeBase &
  (
    | { readonly kind: "gateway"; readonly change: "added" | "removed" }
    | {
        readonly kind: "tool-access";
        readonly scope: string;
        /** `<upstream>__<tool>`, or `<upstream>__<pattern>` when `match` is `pattern`. */
        readonly tool: string;
        readonly match: ToolMatch;
        readonly change: "gained" | "lost";
        /** Known tool names a pattern row covers (listed here instead of as rows of their own). */
        readonly covers?: readonly string[];
        /** The rule that refuses it now (lost only). */
        readonly rule?: string;
      }
    | {
        readonly kind: "client-access";
        readonly client: string;
        readonly unattended: boolean;
        readonly tool: string;
        readonly match: ToolMatch;
        readonly change: "gained" | "lost";
        readonly covers?: readonly string[];
        /** The scope (and grant pattern) that now allows it (gained only). */
        readonly via?: string;
        readonly rule?: string;
      }
    | {
        readonly kind: "client-scope";
        readonly client: string;
        readonly unattended: boolean;
        readonly scope: string;
        readonly change: "added" | "removed";
      }
    | {
        readonly kind: "agent";
        readonly agent: string;
        readonly change: "added" | "removed";
        /** Its scope ceiling (head when added, base when removed). */
        readonly scopes: readonly string[];
      }
    | {
        readonly kind: "agent-scope";
        readonly agent: string;
        readonly scope: string;
        readonly change: "added" | "removed";
      }
    | {
        readonly kind: "agent-access";
        readonly agent: string;
        /** Alone (its own token), acting for a user (user ∩ agent, for the widest user), or both alike. */
        readonly acting: AgentActing;
        readonly tool: string;
        readonly match: ToolMatch;
        readonly change: "gained" | "lost";
        readonly covers?: readonly string[];
        readonly via?: string;
        readonly rule?: string;
      }
    | {
        readonly kind: "always-blocked" | "deny";
        readonly upstream: string;
        readonly pattern: string;
        readonly change: "added" | "removed";
      }
    | {
        readonly kind: "upstream";
        readonly upstream: string;
        readonly change: "added" | "removed" | "changed";
        readonly fields?: readonly string[];
      }
    | { readonly kind: "route"; readonly route: string; readonly change: "added" | "removed" }
    | {
        readonly kind: "provider";
        readonly route: string;
        readonly provider: string;
        readonly change: "added" | "removed";
      }
    | { readonly kind: "policy-binding"; readonly target: string; readonly before: string; readonly after: string }
    | {
        readonly kind: "guard-mode";
        readonly policy: string;
        readonly guard: GuardName;
        readonly before: GuardLevel;
        readonly after: GuardLevel;
      }
    | {
        readonly kind: "limit";
        readonly policy: string;
        readonly limit: "requests" | "tokens";
        readonly before: Budget;
        readonly after: Budget;
      }
    | { readonly kind: "auth"; readonly field: string; readonly before: unknown; readonly after: unknown }
    | {
        /** A budget of one agent (`agent`), or counted per agent (`agent` is `*`): shown with the agents. */
        readonly kind: "agent-budget";
        readonly agent: string;
        readonly budget: string;
        readonly change: "added" | "removed" | "changed";
        readonly before?: SpendBudgetView;
        readonly after?: SpendBudgetView;
      }
    | {
        /** A budget per user or per route, of every caller. */
        readonly kind: "spend-budget";
        readonly budget: string;
        readonly change: "added" | "removed" | "changed";
        readonly before?: SpendBudgetView;
        readonly after?: SpendBudgetView;
      }
    | {
        /** A model's effective price; `(unknown models)` is `unknownModelPrice`, `(default table)` `defaultPrices`. */
        readonly kind: "spend-price";
        readonly model: string;
        readonly before: SpendPriceView | null;
        readonly after: SpendPriceView | null;
      }
  );

export type ChangeKind = Change["kind"];

export type ResourceAction = "create" | "update" | "replace" | "delete" | "move";

/** One planned or estimated resource change. */
export interface ResourceChange {
  readonly address: string;
  readonly type: string;
  /** Provider short name: `aws`, `okta`, `kubernetes`… (the resource type's prefix). */
  readonly provider: string;
  readonly action: ResourceAction;
  /** Top-level attributes that differ (synthesized estimate only). */
  readonly changedAttributes?: readonly string[];
  /** For a rename (synth) or a moved block (plan): the old address. */
  readonly previousAddress?: string;
  /** Plan only: why Terraform replaces, and which attribute paths force it. */
  readonly reason?: string;
}

export interface ProviderTally {
  readonly provider: string;
  readonly create: number;
  readonly update: number;
  readonly replace: number;
  readonly delete: number;
  readonly move: number;
}

export interface InfrastructureDiff {
  readonly stack: string;
  /** `synth`: estimated from the two cdk.tf.json; `plan`: the real actions from `terraform show -json`. */
  readonly source: "synth" | "plan";
  readonly providers: readonly ProviderTally[];
  readonly resources: readonly ResourceChange[];
}

/** A scope → tool-pattern edge of the head (or removed from the base), for the Mermaid diagram. */
export interface AuthorityEdge {
  readonly gateway: string;
  readonly scope: string;
  readonly upstream: string;
  readonly pattern: string;
  readonly state: "kept" | "added" | "removed";
}

export interface ReviewReport {
  readonly summary: {
    readonly widening: number;
    readonly narrowing: number;
    readonly neutral: number;
    readonly resourceChanges: number;
    /** Loud warnings: renamed construct IDs that destroy and recreate, planned replaces and deletes. */
    readonly warnings: readonly string[];
    /** Addresses Terraform will destroy and recreate (a planned replace, or a renamed construct ID). */
    readonly replaced: readonly string[];
    /** Bundles that are not what synth wrote or not what will be deployed. */
    readonly tampered: number;
  };
  readonly tamper: readonly TamperFinding[];
  readonly changes: readonly Change[];
  readonly authority: readonly AuthorityEdge[];
  readonly infrastructure: readonly InfrastructureDiff[];
  /** Concrete tool names the authority diff evaluated, per upstream, and where they came from. */
  readonly toolNames: {
    readonly source: "bundle" | "bundle+catalog";
    readonly byUpstream: Readonly<Record<string, readonly string[]>>;
  };
}
