export * from "./types";
export { diffSyntheses, type DiffOptions } from "./diff";
export { diffAuthority, knownToolNames, type ClientScopes } from "./authority";
export { diffConfig, guardLevel, compareGuardLevels } from "./config-diff";
export { diffSynthesizedResources, planResources, infrastructureWarnings, providerOf } from "./infrastructure";
export { clientScopesOf, diffClientScopes } from "./okta-clients";
export { renderMarkdown, mermaidDiagram, COMMENT_MARKER } from "./markdown";
