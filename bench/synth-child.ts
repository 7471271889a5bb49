/**
 * One measured synthesis, run in a fresh process by bench/synth.ts.
 * argv[2]: "full" (the default environment: dev + prod stacks, bundles included) or "baseline"
 * (cdktf loaded, one empty stack). argv[3]: output directory. Prints one JSON line.
 */
import { App, TerraformStack } from "cdktf";

const [mode, outdir] = process.argv.slice(2);
if (!outdir || (mode !== "full" && mode !== "baseline")) {
  console.error("usage: synth-child.ts full|baseline <outdir>");
  process.exit(2);
}
const app = new App({ outdir });
if (mode === "full") {
  const { EnvironmentStack } = await import("../stacks/environment-stack");
  const { ENVIRONMENTS } = await import("../stacks/environments");
  new EnvironmentStack(app, ENVIRONMENTS.dev);
  new EnvironmentStack(app, ENVIRONMENTS.prod);
} else {
  new TerraformStack(app, "empty");
}
app.synth();
console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));
