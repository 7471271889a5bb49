/** `npx cdktf synth --app "npx tsx examples/minimal/main.ts"` */
import { App } from "cdktf";
import { MinimalStack } from "./stack.js";

const app = new App();
new MinimalStack(app);
app.synth();
