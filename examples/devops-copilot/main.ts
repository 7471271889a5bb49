/**
 * The devops-copilot reference environment, done right: Slack and GitHub MCP upstreams,
 * Anthropic/OpenAI/xAI routes with failover, mcp:read/write/admin, destructive tools always blocked.
 *
 * The platform is defined once, in `stacks/devops-copilot-platform.ts`, and deployed by the default
 * app (`stacks/main.ts`, dev and prod). This example app synthesizes the same platform as a single
 * stack from settings you edit: copy it, change the settings, run
 * `npx cdktf synth --app "npx tsx examples/devops-copilot/main.ts"`.
 */
import { App } from "cdktf";
import { EnvironmentStack } from "../../stacks/environment-stack.js";
import { ENVIRONMENTS } from "../../stacks/environments.js";
import { exampleSettings } from "./settings.js";

const app = new App();
new EnvironmentStack(app, exampleSettings(ENVIRONMENTS.dev));
app.synth();
