/**
 * A platform team's cdktf app entry point, as `cdktf init` makes it. `--unauthenticated-route` adds the
 * mistake Tollgate's checks must catch.
 */
import { App } from "cdktf";
import { PlatformStack } from "./stack.js";

const app = new App();
new PlatformStack(app, "platform", { unauthenticatedRoute: process.argv.includes("--unauthenticated-route") });
app.synth();
