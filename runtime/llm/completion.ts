/**
 * A chat completion's request path: DESIGN.md's stages after the server's authenticate and identify, one
 * entry each, run by `runStages` (tracing and waiting are its business, not the stages'). LLM routes
 * have no authorize stage: every verified principal may use a route, its policy decides the rest.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { runStages } from "../http/stage.js";
import type { RequestContext } from "../http/types.js";
import { type CompiledRoute, Completion, type LlmRefusal, type LlmServices } from "./exchange.js";
import { forward, guardRequest, limit, parse } from "./request-stages.js";
import { guardResponse, record } from "./response-stages.js";
import type { WireFormat } from "./translate/formats.js";
import { spend } from "./spend-stage.js";

const COMPLETION_PATH = [parse, limit, spend, guardRequest, forward, guardResponse, record];

/** Serves `POST {prefix}/v1/chat/completions`, `/v1/messages` or `/v1/responses` (the client's `format`). */
export async function serveCompletion(
  services: LlmServices,
  route: CompiledRoute,
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  format: WireFormat,
): Promise<void> {
  const exchange = new Completion(services, route, ctx, req, res, format);
  const refusal = await runStages(COMPLETION_PATH, exchange);
  if (refusal) refuse(exchange, refusal);
}

/** The client gets the refusal in its wire format; the refusal is recorded (unless the body was unreadable). */
function refuse(x: Completion, refusal: LlmRefusal): void {
  if (refusal.audit) x.audit({ ...refusal.audit, status: refusal.error.status });
  x.sendError(refusal.error, refusal.headers);
}
