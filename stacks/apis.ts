/**
 * The OpenAPI documents of the platform's internal REST services, loaded (parsed, validated, dereferenced)
 * when this module is first imported: loading is asynchronous and cdktf synth is not, so every app that
 * builds the platform has them before it builds a construct.
 */
import { join } from "node:path";
import { OpenApiDocument } from "../constructs/openapi-document.js";

/** The tickets service (`stacks/tickets.openapi.yaml`), served to agents as `tickets__*` tools. */
export const TICKETS_API = await OpenApiDocument.fromFile(join(import.meta.dirname, "tickets.openapi.yaml"));
