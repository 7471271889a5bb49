/** `npx cdktf synth --app "npx tsx examples/existing-stack/main.ts"` */
import { App } from "cdktf";
import { PlatformTeamStack } from "./stack.js";

const app = new App();
new PlatformTeamStack(app);
app.synth();
