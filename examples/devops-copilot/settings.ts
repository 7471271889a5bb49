import type { EnvironmentSettings } from "../../stacks/environments.js";

/** The example's own settings: your org, your gateway URL, your redirect URIs. */
export function exampleSettings(base: EnvironmentSettings): EnvironmentSettings {
  return {
    ...base,
    stackName: "devops-copilot",
    gatewayUrl: "https://agents.acme.example/gateway",
    okta: { orgName: "acme", baseUrl: "okta.com", redirectUris: ["https://copilot.acme.example/callback"] },
  };
}
