/**
 * The review as a pull-request comment (GitHub-flavoured Markdown with a Mermaid diagram). The first line
 * is a hidden marker so a workflow can find and update its own comment instead of adding another.
 */
import type { AuthorityEdge, Change, ChangeKind, Effect, InfrastructureDiff, ReviewReport } from "./types.js";

/** Hidden marker on the first line of every comment `tollgate diff` renders. */
export const COMMENT_MARKER = "<!-- tollgate-diff -->";

const EFFECT_LABEL: Record<Effect, string> = {
  widening: "🔺 widening",
  narrowing: "🔻 narrowing",
  neutral: "▫️ neutral",
};

const SECTIONS: readonly { title: string; kinds: readonly ChangeKind[] }[] = [
  {
    title: "Effective authority",
    kinds: ["gateway", "tool-access", "client-access", "client-scope", "always-blocked", "deny"],
  },
  {
    title: "Agents: alone and acting for a user",
    kinds: ["agent", "agent-scope", "agent-access", "agent-budget"],
  },
  { title: "Routes, providers and upstreams", kinds: ["route", "provider", "upstream"] },
  { title: "Guards, limits and token acceptance", kinds: ["guard-mode", "limit", "policy-binding", "auth"] },
  { title: "Spend budgets and prices", kinds: ["spend-budget", "spend-price"] },
];

const EFFECT_ORDER: readonly Effect[] = ["widening", "narrowing", "neutral"];

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function changeTable(changes: readonly Change[]): string[] {
  const rows = [...changes].sort((a, b) => EFFECT_ORDER.indexOf(a.effect) - EFFECT_ORDER.indexOf(b.effect));
  return ["| Effect | Change |", "|---|---|", ...rows.map((c) => `| ${EFFECT_LABEL[c.effect]} | ${cell(c.summary)} |`)];
}

function mermaidLabel(text: string): string {
  return `"${text.replace(/"/g, "#quot;")}"`;
}

/** Scopes → `upstream: pattern` for one gateway; added edges thick and green, removed dotted and red. */
export function mermaidDiagram(edges: readonly AuthorityEdge[]): string[] {
  const scopes = [...new Set(edges.map((e) => e.scope))].sort();
  const targets = [...new Set(edges.map((e) => `${e.upstream}: ${e.pattern}`))].sort();
  const lines = ["```mermaid", "graph LR"];
  scopes.forEach((s, i) => lines.push(`  s${i}[${mermaidLabel(s)}]`));
  targets.forEach((t, i) => lines.push(`  t${i}[${mermaidLabel(t)}]`));
  const styles: string[] = [];
  edges.forEach((e, i) => {
    const from = `s${scopes.indexOf(e.scope)}`;
    const to = `t${targets.indexOf(`${e.upstream}: ${e.pattern}`)}`;
    if (e.state === "added") {
      lines.push(`  ${from} ==>|added| ${to}`);
      styles.push(`  linkStyle ${i} stroke:#1a7f37,stroke-width:3px`);
    } else if (e.state === "removed") {
      lines.push(`  ${from} -.->|removed| ${to}`);
      styles.push(`  linkStyle ${i} stroke:#cf222e`);
    } else {
      lines.push(`  ${from} --> ${to}`);
    }
  });
  return [...lines, ...styles, "```"];
}

function infrastructureSection(infra: InfrastructureDiff): string[] {
  const source =
    infra.source === "plan"
      ? "terraform plan"
      : "estimated from the synthesized cdk.tf.json (pass `--plan` for Terraform's real actions)";
  const lines = [
    `### Infrastructure — stack \`${infra.stack}\``,
    "",
    `_Source: ${source}._`,
    "",
    "| Provider | create | update | replace | delete | move |",
    "|---|---|---|---|---|---|",
  ];
  for (const p of infra.providers)
    lines.push(`| ${p.provider} | ${p.create} | ${p.update} | ${p.replace} | ${p.delete} | ${p.move} |`);
  lines.push("", "<details><summary>Resources</summary>", "");
  for (const r of infra.resources) {
    const extra = [
      r.previousAddress ? `from \`${r.previousAddress}\`` : undefined,
      r.changedAttributes ? `attributes: ${r.changedAttributes.map((a) => `\`${a}\``).join(", ")}` : undefined,
      r.reason,
    ].filter(Boolean);
    lines.push(`- **${r.action}** \`${r.address}\`${extra.length > 0 ? ` — ${extra.join("; ")}` : ""}`);
  }
  lines.push("", "</details>", "");
  return lines;
}

/** Renders the report as one PR comment. */
export function renderMarkdown(report: ReviewReport): string {
  const { summary } = report;
  const lines = [
    COMMENT_MARKER,
    `## Tollgate review: ${summary.widening} widening, ${summary.narrowing} narrowing, ${summary.neutral} neutral, ${summary.resourceChanges} resource changes`,
    "",
  ];
  if (summary.widening > 0)
    lines.push("> [!WARNING]", "> This change **widens** access or loosens a guard or limit. Review the 🔺 rows.", "");
  if (report.tamper.length > 0) {
    lines.push(
      "> [!CAUTION]",
      "> **Tampered bundle: what is reviewed here is not what will run**",
      ...report.tamper.map((t) => `> - ${t.side}: ${cell(t.where)}: ${cell(t.message)}`),
      "",
    );
  }
  if (summary.warnings.length > 0) {
    lines.push(
      "> [!CAUTION]",
      "> **Destructive infrastructure changes**",
      ...summary.warnings.map((w) => `> - ${w}`),
      "",
    );
  }
  if (report.changes.length === 0 && report.infrastructure.length === 0)
    lines.push("No change in authority, guards, routes or infrastructure.", "");

  const gateways = [
    ...new Set([...report.changes.map((c) => c.gateway), ...report.authority.map((e) => e.gateway)]),
  ].sort();
  for (const gateway of gateways) {
    const own = report.changes.filter((c) => c.gateway === gateway);
    const edges = report.authority.filter((e) => e.gateway === gateway);
    const isGateway = edges.length > 0 || own.some((c) => c.kind !== "client-scope");
    lines.push(`### ${isGateway ? "Gateway" : "Okta clients of stack"} \`${gateway}\``, "");
    for (const section of SECTIONS) {
      const rows = own.filter((c) => section.kinds.includes(c.kind));
      if (rows.length > 0) lines.push(`#### ${section.title}`, "", ...changeTable(rows), "");
    }
    if (own.length === 0) lines.push("No change.", "");
    if (edges.length > 0 && edges.some((e) => e.state !== "kept")) {
      lines.push("<details><summary>Scopes → tools</summary>", "", ...mermaidDiagram(edges), "", "</details>", "");
    }
  }
  for (const infra of report.infrastructure) lines.push(...infrastructureSection(infra));

  const known = Object.entries(report.toolNames.byUpstream).map(([u, names]) => `${u}: ${names.length}`);
  lines.push(
    `<sub>Tools are known by pattern at synth time; the upstreams' real tool lists exist only at runtime. Concrete tool rows cover the names ${
      report.toolNames.source === "bundle" ? "the bundles mention" : "the bundles mention and the `--tools` catalogue"
    } (${known.length > 0 ? known.join(", ") : "none"}); pattern rows cover the rest.</sub>`,
    "",
  );
  return lines.join("\n");
}
