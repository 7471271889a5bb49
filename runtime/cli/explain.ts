/**
 * `tollgate explain`: whether a caller may see and call one MCP tool, and the path that decided: the
 * client check (`auth.allowedClients`), then the always-blocked list, the deny rules and the grants, using
 * the same `policies/tools` decision the gateway runs on every `tools/list` and `tools/call`.
 *
 * The caller is a raw token (`--token`, verified with the gateway's own verifier against the issuer, or
 * only decoded with `--no-verify`) or a claims file. A bundle under review still holds apply-time
 * placeholders: where the answer depends on one (the allowed clients), explain says so and names the
 * `--values` that would settle it instead of guessing.
 */
import {
  type AuthConfig,
  type BundleIssue,
  formatIssue,
  listPlaceholders,
  placeholderName,
  validateRuntimeBundle,
  validateSynthBundle,
} from "../../policies/bundle/index.js";
import type { McpConfig } from "../../policies/bundle/index.js";
import { compileToolPolicy, decideTool, matchesToolPattern, splitNamespacedName } from "../../policies/tools/index.js";
import { createTokenVerifier, parseScopes } from "../auth/verifier.js";
import { parseCommandArgs } from "./args.js";
import { BundleFileError, readBundleFile, readJsonFile } from "./bundle-file.js";
import { decodeClaims } from "./jwt-claims.js";

const USAGE = `usage: tollgate explain --bundle <bundle.json> (--token <jwt> [--no-verify] | --claims <claims.json>) --tool <upstream__tool> [--values values.json] [--overlay overlay.json] [--json]

Whether a caller may see and call one MCP tool, and which rule decided (the gateway's own decision).
  --bundle <file>    the gateway bundle (its digest is checked)
  --token <jwt>      the caller's access token; verified against the bundle's issuer (which must be
                     reachable, and the bundle's placeholders filled by --values) unless --no-verify
  --no-verify        decode the token without verifying it
  --claims <file>    the caller's token claims as JSON instead of a token, e.g. {"cid":"agent","scp":["mcp:read"]}
  --tool <name>      the tool as agents see it: <upstream>__<tool>
  --values <file>    values for the bundle's apply-time placeholders (the ConfigMap's values.json)
  --overlay <file>   a local overlay
  --json             the explanation as JSON
exit codes: 0 allowed, 1 denied, 2 usage or input error, 3 the answer depends on unfilled placeholders`;

/** 0 allowed, 1 denied, 3 undecided: the allowed clients are placeholders without values. */
export type Verdict = "allowed" | "denied" | "depends on placeholders";
const EXIT: Record<Verdict, number> = { allowed: 0, denied: 1, "depends on placeholders": 3 };

/** One step of the decision path, in the gateway's order. */
export interface Step {
  readonly check: "client" | "always-blocked" | "deny" | "grant";
  /** `pass`: the step lets the call through; `refuse`: it decides a denial; `unknown`: it depends on placeholders. */
  readonly outcome: "pass" | "refuse" | "unknown";
  readonly detail: string;
}

/** What explain concluded; also its `--json` output. */
export interface Explanation {
  readonly tool: string;
  readonly upstream: string;
  readonly upstreamTool: string;
  readonly verdict: Verdict;
  readonly allowed: boolean;
  /** The deciding rule: `grant: <scope>` when allowed, else the denial rule. */
  readonly rule: string;
  /** Every scope that would allow the tool, when a scope would. */
  readonly requiredScopes: readonly string[];
  readonly path: readonly Step[];
  /** Placeholders the answer depends on, and the values file keys that would fill them. */
  readonly unfilled: readonly string[];
  readonly principal: {
    readonly subject: string | undefined;
    readonly client: string | undefined;
    readonly scopes: readonly string[];
    /** How the caller was established. */
    readonly source: "verified token" | "unverified token" | "claims file";
  };
}

type ExplainBundle = {
  readonly auth: AuthConfig;
  readonly mcp?: McpConfig | undefined;
  readonly protectedResource?: { readonly resource: string };
};

/**
 * Validates for explaining: load-time rules when they pass (values applied); otherwise the reviewed
 * bundle under synth rules, since tool rules never hold apply-time values.
 */
function validateForExplain(
  input: unknown,
  values: Record<string, string> | undefined,
  overlay: unknown,
): { ok: true; bundle: ExplainBundle; resolved: boolean } | { ok: false; issues: readonly BundleIssue[] } {
  const runtime = validateRuntimeBundle(input, {
    requireDigest: true,
    ...(values ? { values } : {}),
    ...(overlay !== undefined ? { overlay } : {}),
  });
  if (runtime.ok) return { ok: true, bundle: runtime.bundle, resolved: true };
  const synth = validateSynthBundle(input);
  if (synth.ok) return { ok: true, bundle: synth.bundle as unknown as ExplainBundle, resolved: false };
  return { ok: false, issues: runtime.issues };
}

const where = (upstream: string) => (upstream === "*" ? "every upstream" : upstream);

/** The decision for one tool and one set of claims. Pure: exported for tests. */
export function explainTool(
  bundle: ExplainBundle,
  claims: Record<string, unknown>,
  tool: string,
  source: Explanation["principal"]["source"] = "claims file",
): Explanation | { error: string } {
  const split = splitNamespacedName(tool);
  const upstreamIds = (bundle.mcp?.upstreams ?? []).map((u) => u.id);
  if (!split)
    return {
      error: `tool "${tool}" is not a gateway tool name: expected <upstream>__<tool>, upstreams are ${upstreamIds.join(", ") || "(none)"}`,
    };
  if (!upstreamIds.includes(split.upstreamId))
    return {
      error: `no upstream "${split.upstreamId}" in the bundle (upstreams: ${upstreamIds.join(", ") || "(none)"})`,
    };
  const scopes = parseScopes(claims[bundle.auth.scopeClaim]);
  if (!scopes)
    return { error: `claim ${bundle.auth.scopeClaim} must be an array of strings or a space-separated string` };
  const clientClaim = bundle.auth.clientClaims.find((c) => typeof claims[c] === "string");
  const client = clientClaim ? (claims[clientClaim] as string) : undefined;
  const principal = { subject: typeof claims.sub === "string" ? claims.sub : undefined, client, scopes, source };
  const { upstreamId, name } = split;
  const path: Step[] = [];

  const allowed = bundle.auth.allowedClients;
  const unfilled = (allowed ?? []).flatMap((c) => {
    const p = placeholderName(c);
    return p ? [p] : [];
  });
  let clientOutcome: Step["outcome"];
  if (!allowed) {
    clientOutcome = "pass";
    path.push({
      check: "client",
      outcome: "pass",
      detail: "no auth.allowedClients: tokens of any client are accepted",
    });
  } else if (client !== undefined && allowed.includes(client)) {
    clientOutcome = "pass";
    path.push({ check: "client", outcome: "pass", detail: `${client} is in auth.allowedClients` });
  } else if (unfilled.length > 0) {
    clientOutcome = "unknown";
    path.push({
      check: "client",
      outcome: "unknown",
      detail: `auth.allowedClients holds placeholders (${unfilled.join(", ")}) that only terraform apply fills: pass --values values.json (the ConfigMap's) with ${unfilled.join(", ")} to decide whether ${client ?? "(no client claim)"} is one of them`,
    });
  } else {
    clientOutcome = "refuse";
    path.push({
      check: "client",
      outcome: "refuse",
      detail: `${client ?? "(no client claim)"} is not in auth.allowedClients (${allowed.join(", ")}): the token is refused before any tool rule`,
    });
  }

  const mcp = bundle.mcp ?? { grants: [], deny: [], alwaysBlocked: [] };
  const decision = decideTool(scopes, upstreamId, name, compileToolPolicy(mcp));
  // The decision is decideTool's; the path names the rule text it matched, for the reader.
  for (const [check, rules] of [
    ["always-blocked", mcp.alwaysBlocked],
    ["deny", mcp.deny],
  ] as const) {
    const hit = rules.find(
      (r) => (r.upstream === "*" || r.upstream === upstreamId) && r.tools.some((t) => matchesToolPattern(t, name)),
    );
    if (hit) {
      const pattern = hit.tools.find((t) => matchesToolPattern(t, name))!;
      path.push({ check, outcome: "refuse", detail: `\`${pattern}\` on ${where(hit.upstream)}: ${hit.reason}` });
      break;
    }
    path.push({ check, outcome: "pass", detail: `no ${check} rule matches ${name}` });
  }
  if (decision.allowed) {
    const grant = mcp.grants.find(
      (g) =>
        g.scope === decision.grantedBy && g.upstream === upstreamId && g.tools.some((t) => matchesToolPattern(t, name)),
    );
    const pattern = grant?.tools.find((t) => matchesToolPattern(t, name));
    path.push({
      check: "grant",
      outcome: "pass",
      detail: `${decision.grantedBy} grants ${upstreamId} tools matching \`${pattern ?? name}\``,
    });
  } else if (!path.some((s) => s.check !== "client" && s.outcome === "refuse")) {
    path.push({
      check: "grant",
      outcome: "refuse",
      detail:
        decision.requiredScopes.length > 0
          ? `the caller holds ${scopes.join(" ") || "no scope"}; ${decision.requiredScopes.join(" or ")} would allow ${name}`
          : `no scope is granted ${name}: tools are denied by default`,
    });
  }

  const base = { tool, upstream: upstreamId, upstreamTool: name, principal, path };
  if (clientOutcome === "refuse")
    return {
      ...base,
      verdict: "denied",
      allowed: false,
      rule: "client not allowed (auth.allowedClients)",
      requiredScopes: [],
      unfilled: [],
    };
  if (!decision.allowed)
    return {
      ...base,
      verdict: "denied",
      allowed: false,
      rule: decision.rule,
      requiredScopes: decision.requiredScopes,
      unfilled: [],
    };
  return clientOutcome === "unknown"
    ? {
        ...base,
        verdict: "depends on placeholders",
        allowed: false,
        rule: `grant: ${decision.grantedBy}, if the client is allowed`,
        requiredScopes: [],
        unfilled,
      }
    : {
        ...base,
        verdict: "allowed",
        allowed: true,
        rule: `grant: ${decision.grantedBy}`,
        requiredScopes: [],
        unfilled: [],
      };
}

class ExplainInputError extends Error {}

/** The claims of `token`: verified with the gateway's verifier, or only decoded with `--no-verify`. */
async function claimsOfToken(
  token: string,
  bundle: ExplainBundle,
  resolved: boolean,
  input: unknown,
  verify: boolean,
): Promise<Record<string, unknown>> {
  let decoded: Record<string, unknown>;
  try {
    decoded = decodeClaims(token);
  } catch (error) {
    throw new ExplainInputError(`--token: ${(error as Error).message}`);
  }
  if (!verify) return decoded;
  if (!resolved) {
    const names = listPlaceholders((input as { auth?: unknown }).auth);
    throw new ExplainInputError(
      `cannot verify the token: the bundle's auth settings are placeholders (${names.join(", ")}) until terraform apply; pass --values values.json (the ConfigMap's) to fill them, or --no-verify to explain the decoded claims`,
    );
  }
  // As the gateway does: a token for the advertised protected resource (RFC 9728) is meant for it too.
  const resource = bundle.protectedResource?.resource;
  const verifier = createTokenVerifier(bundle.auth, resource ? { resource } : {});
  try {
    await verifier.keys.load();
  } catch (error) {
    throw new ExplainInputError(
      `cannot verify the token: the issuer ${bundle.auth.issuer} is not reachable (${(error as Error).message}); pass --no-verify to explain the decoded claims`,
    );
  }
  const result = await verifier.verify(token);
  if (!result.ok)
    throw new ExplainInputError(`the token does not verify: ${result.reason} (the gateway would answer 401)`);
  return decoded;
}

function print(result: Explanation): void {
  const verdict =
    result.verdict === "depends on placeholders" ? "DEPENDS ON PLACEHOLDERS" : result.verdict.toUpperCase();
  console.log(`${verdict}: ${result.tool} (upstream ${result.upstream}, tool ${result.upstreamTool})`);
  console.log(`  rule:   ${result.rule}`);
  if (result.requiredScopes.length > 0) console.log(`  needs:  one of ${result.requiredScopes.join(", ")}`);
  const p = result.principal;
  console.log(
    `  caller: sub=${p.subject ?? "(none)"} client=${p.client ?? "(none)"} scopes=${p.scopes.join(" ") || "(none)"} (${p.source})`,
  );
  console.log("  path:");
  const mark = { pass: "pass  ", refuse: "REFUSE", unknown: "?     " };
  for (const step of result.path) console.log(`    ${mark[step.outcome]} ${step.check.padEnd(14)} ${step.detail}`);
  if (result.unfilled.length > 0)
    console.log(
      `  fill:   --values values.json with ${result.unfilled.join(", ")} (rendered by Terraform into the ConfigMap)`,
    );
}

export async function explainCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    "explain",
    args,
    {
      bundle: { type: "string" },
      values: { type: "string" },
      overlay: { type: "string" },
      claims: { type: "string" },
      token: { type: "string" },
      "no-verify": { type: "boolean", default: false },
      tool: { type: "string" },
      json: { type: "boolean", default: false },
    },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const {
    bundle: bundleFile,
    values: valuesFile,
    overlay: overlayFile,
    claims: claimsFile,
    token,
    tool,
  } = parsed.values;
  if (!bundleFile || !tool || (claimsFile === undefined) === (token === undefined) || parsed.positionals.length > 0) {
    console.error(USAGE);
    return 2;
  }
  try {
    const read = await readBundleFile(bundleFile);
    if (read.mismatch) throw new ExplainInputError(`${bundleFile}: ${formatIssue(read.mismatch)}`);
    const values = valuesFile ? ((await readJsonFile(valuesFile, "values ")) as Record<string, string>) : undefined;
    const overlay = overlayFile ? await readJsonFile(overlayFile, "overlay ") : undefined;
    const validated = validateForExplain(read.input, values, overlay);
    if (!validated.ok)
      throw new ExplainInputError(
        `${bundleFile}: invalid gateway bundle\n${validated.issues.map((i) => `  - ${formatIssue(i)}`).join("\n")}`,
      );
    let claims: unknown;
    let source: Explanation["principal"]["source"] = "claims file";
    if (token !== undefined) {
      const verify = !parsed.values["no-verify"];
      claims = await claimsOfToken(token, validated.bundle, validated.resolved, read.input, verify);
      source = verify ? "verified token" : "unverified token";
    } else {
      claims = await readJsonFile(claimsFile!, "claims ");
      if (claims === null || typeof claims !== "object" || Array.isArray(claims))
        throw new ExplainInputError(
          `claims ${claimsFile}: expected a JSON object of token claims, e.g. {"sub":"alice","cid":"agent","scp":["mcp:read"]}`,
        );
    }
    const result = explainTool(validated.bundle, claims as Record<string, unknown>, tool, source);
    if ("error" in result) throw new ExplainInputError(result.error);
    if (parsed.values.json) console.log(JSON.stringify(result, null, 2));
    else print(result);
    return EXIT[result.verdict];
  } catch (error) {
    if (!(error instanceof BundleFileError || error instanceof ExplainInputError)) throw error;
    console.error(`tollgate explain: ${error.message}`);
    return 2;
  }
}
