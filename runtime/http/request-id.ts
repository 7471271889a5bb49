/**
 * The request's id: the client's `x-request-id` when it is well-formed, else a new UUID. The id is answered
 * to the client, written in every audit line of the request and sent to every upstream the request reaches,
 * so one id follows the request through the client's logs, the gateway's and the provider's.
 *
 * Well-formed: one `x-request-id` header of 1 to 128 characters from `A-Z a-z 0-9 . _ : -`. That covers
 * UUIDs, ULIDs, Envoy's and the cloud load balancers' ids, and keeps out anything that could forge a log line
 * or a header (spaces, quotes, CR/LF, commas). Two headers are not one id: Node joins them with ", ",
 * which the character set refuses. An id is not a credential and decides nothing: it is only correlation.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export const REQUEST_ID_HEADER = "x-request-id";
export const MAX_REQUEST_ID_LENGTH = 128;

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** Whether `value` may be taken as a request id. */
export function isWellFormedRequestId(value: unknown): value is string {
  return typeof value === "string" && WELL_FORMED.test(value);
}

/** The client's `x-request-id` when well-formed, else a new random UUID. */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const offered = headers[REQUEST_ID_HEADER];
  return isWellFormedRequestId(offered) ? offered : randomUUID();
}
