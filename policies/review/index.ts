export * from "./types.js";
export { diffSyntheses, type DiffOptions } from "./diff.js";
export { diffAuthority, knownToolNames, type AgentScopes, type ClientScopes } from "./authority.js";
export { diffConfig, guardLevel, compareGuardLevels } from "./config-diff.js";
export { diffSynthesizedResources, planResources, infrastructureWarnings, providerOf } from "./infrastructure.js";
export { clientScopesOf, diffClientScopes } from "./okta-clients.js";
export { renderMarkdown, mermaidDiagram, COMMENT_MARKER } from "./markdown.js";
export { configMapFindings, digestIssue } from "./integrity.js";
export { diffSpend } from "./spend.js";
