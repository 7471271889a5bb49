/** The default environment (cdktf.json's app): the devops-copilot platform as `tollgate-dev` and `tollgate-prod`. */
import { App } from "cdktf";
import { EnvironmentStack } from "./environment-stack.js";
import { ENVIRONMENTS } from "./environments.js";

const app = new App();
new EnvironmentStack(app, ENVIRONMENTS.dev);
new EnvironmentStack(app, ENVIRONMENTS.prod);
app.synth();
