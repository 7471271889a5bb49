/** `npx cdktf synth --app "npx tsx examples/minimal/main.ts"` */
import { App } from "cdktf";
import { MinimalStack } from "./stack";

const app = new App();
new MinimalStack(app);
app.synth();
