/**
 * The synth-time check (TG-TOOL-001), the gateway's decision and `tollgate diff` read the same tool patterns.
 * If one of them matched a name differently (an unescaped `.`, a missing anchor), a tool the synth check
 * calls destructive could be callable at the gateway, or a change the diff calls harmless could open a tool.
 * Each case is asked of all three, through their public entry points.
 */
import { describe, expect, it } from "vitest";
import { GatewayRoute, GuardPolicy } from "../../constructs/index.js";
import { type SynthBundle, validateSynthBundle } from "../../policies/bundle/index.js";
import { diffSyntheses } from "../../policies/review/index.js";
import { compileToolPolicy, decideTool, matchesToolPattern } from "../../policies/tools/index.js";
import { smallPlatform } from "../constructs/fixtures.js";
import { checkErrors } from "../constructs/synth-helpers.js";
import { sampleBundle } from "../support/sample-bundle.js";

interface Case {
  /** An always-blocked pattern. */
  readonly blocked: string;
  /** A tool name an upstream offers. */
  readonly tool: string;
  /** Whether the pattern matches the whole name. */
  readonly matches: boolean;
}

/** Names a grant may spell (the bundle's pattern alphabet: letters, digits, `_`, `.`, `-`). */
const GRANTABLE: readonly Case[] = [
  { blocked: "deploy.prod", tool: "deploy.prod", matches: true },
  { blocked: "deploy.prod", tool: "deployXprod", matches: false },
  { blocked: "shell.*", tool: "shell.exec", matches: true },
  { blocked: "shell.*", tool: "shellXexec", matches: false },
  { blocked: "*.sh", tool: "run.sh", matches: true },
  { blocked: "*.sh", tool: "run_sh", matches: false },
  { blocked: "rollout-*", tool: "rollout-eu", matches: true },
  { blocked: "rollout-*", tool: "rollout_eu", matches: false },
  { blocked: "reset", tool: "reset_password", matches: false },
  { blocked: "reset", tool: "soft_reset", matches: false },
];

/** Names only an upstream can offer: regex syntax the pattern alphabet excludes, so no grant can name them. */
const UPSTREAM_ONLY: readonly Case[] = [
  { blocked: "calc*", tool: "calc+1", matches: true },
  { blocked: "calc", tool: "calc+1", matches: false },
  { blocked: "cost", tool: "cost$", matches: false },
  { blocked: "cost*", tool: "cost$", matches: true },
  { blocked: "fn*", tool: "fn(x)", matches: true },
  { blocked: "fn", tool: "fn(x)", matches: false },
  { blocked: "a.b*", tool: "a.b+c", matches: true },
  { blocked: "a.b*", tool: "axb+c", matches: false },
  { blocked: "*", tool: "line\nbreak", matches: true },
];

const UPSTREAM = "memory";

/** A valid synth bundle whose `mcp:admin` holds every memory tool, plus `blocked` always-blocked (if given). */
function bundle(blocked?: string): SynthBundle {
  const input = sampleBundle();
  const mcp = input.mcp!;
  mcp.grants = [{ scope: "mcp:admin", upstream: UPSTREAM, tools: ["*"] }];
  mcp.alwaysBlocked = blocked === undefined ? [] : [{ upstream: "*", tools: [blocked], reason: "under test" }];
  const result = validateSynthBundle(input);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.bundle;
}

/** The gateway: may an `mcp:admin` caller call `tool` when `blocked` is always-blocked? */
function gatewayBlocks({ blocked, tool }: Case): boolean {
  const mcp = bundle(blocked).mcp!;
  return !decideTool(["mcp:admin"], UPSTREAM, tool, compileToolPolicy(mcp)).allowed;
}

/** `tollgate diff`: does adding `blocked` to always-blocked report that `mcp:admin` loses `tool`? */
function diffReportsLoss({ blocked, tool }: Case): boolean {
  const side = (b: SynthBundle) => ({ stacks: [{ name: "tollgate-dev", bundles: [b] }] });
  const report = diffSyntheses(side(bundle()), side(bundle(blocked)), { catalog: { [UPSTREAM]: [tool] } });
  return report.changes.some(
    (c) =>
      c.kind === "tool-access" && c.scope === "mcp:admin" && c.tool === `${UPSTREAM}__${tool}` && c.change === "lost",
  );
}

/** The synth-time check: does granting `tool` by name fail synth with TG-TOOL-001 when `blocked` is always-blocked? */
function synthFlags({ blocked, tool }: Case): boolean {
  const { stack } = smallPlatform({
    grants: [["mcp:write", [tool]]],
    extraRoutes: (scope) => {
      const route = GatewayRoute.mcp(scope, "Ops", { upstreamId: "ops", url: "https://ops.acme.example/mcp" });
      new GuardPolicy(scope, "Blocks", {
        alwaysBlockedTools: [{ upstream: "*", tools: [blocked], reason: "under test" }],
      }).applyTo(route);
      return [route];
    },
  });
  const errors = checkErrors(stack);
  const others = errors.filter((e) => !e.startsWith("[TG-TOOL-001]"));
  if (others.length > 0) throw new Error(`unexpected synth errors: ${others.join("\n")}`);
  return errors.length > 0;
}

const label = (c: Case) =>
  `${JSON.stringify(c.blocked)} ${c.matches ? "matches" : "does not match"} ${JSON.stringify(c.tool)}`;

describe("one tool-pattern reading across synth, gateway and diff", () => {
  it.each(GRANTABLE.map((c) => [label(c), c] as const))(
    "%s: synth check, gateway and diff agree",
    (_, c) => {
      expect({
        pattern: matchesToolPattern(c.blocked, c.tool),
        synth: synthFlags(c),
        gateway: gatewayBlocks(c),
        diff: diffReportsLoss(c),
      }).toEqual({ pattern: c.matches, synth: c.matches, gateway: c.matches, diff: c.matches });
    },
    30_000,
  );

  it.each(UPSTREAM_ONLY.map((c) => [label(c), c] as const))("%s: gateway and diff agree", (_, c) => {
    expect({
      pattern: matchesToolPattern(c.blocked, c.tool),
      gateway: gatewayBlocks(c),
      diff: diffReportsLoss(c),
    }).toEqual({ pattern: c.matches, gateway: c.matches, diff: c.matches });
  });

  it("a grant cannot name a tool outside the pattern alphabet, so the synth check never has to read one", () => {
    const input = sampleBundle();
    input.mcp!.grants = [{ scope: "mcp:write", upstream: UPSTREAM, tools: ["calc+1"] }];
    const result = validateSynthBundle(input);
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).toContain("mcp.grants[0].tools[0]");
  });
});
