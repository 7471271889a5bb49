/** Entry point of the built gateway (`npm run build` → dist/runtime/tollgate.mjs, the image's command). */
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
