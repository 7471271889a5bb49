/**
 * The local tickets service: a small REST API that implements `stacks/tickets.openapi.yaml` (in memory), so
 * the local platform's gateway serves its operations as `tickets__*` tools. It answers under `/v1`, serves its
 * own document at `/openapi.yaml`, and, when started with a `token`, refuses requests without
 * `Authorization: Bearer <token>` (the gateway's own credential for it, never the caller's).
 *
 * Every request it receives is kept (method, path as sent, headers) so tests can see what reached it.
 */
import { readFile } from "node:fs/promises";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export const TICKETS_DOCUMENT = join(import.meta.dirname, "../../stacks/tickets.openapi.yaml");

type Status = "open" | "in_progress" | "closed";
const STATUSES: readonly Status[] = ["open", "in_progress", "closed"];

interface Ticket {
  id: string;
  title: string;
  description?: string;
  assignee: string | null;
  status: Status;
  createdAt: string;
}

export interface ReceivedRequest {
  readonly method: string;
  /** The request target exactly as it arrived (path and query, still percent-encoded). */
  readonly target: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface TicketsService {
  /** `http://127.0.0.1:<port>/v1`: the base URL of the operations. */
  readonly baseUrl: string;
  readonly received: readonly ReceivedRequest[];
  readonly tickets: ReadonlyMap<string, Ticket>;
  close(): Promise<void>;
}

export interface TicketsServiceOptions {
  /** @default 0 (any free port) */
  readonly port?: number;
  /** The bearer token requests must carry. @default none required */
  readonly token?: string;
}

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks a create or update body against the document's schema (the fields it allows, their types). */
function ticketFields(body: unknown, creating: boolean): Partial<Ticket> | string {
  if (!isRecord(body)) return "expected a JSON object";
  const allowed = creating ? ["title", "description", "assignee"] : ["title", "status", "assignee"];
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length > 0) return `unknown field ${extra.join(", ")}`;
  const fields: Partial<Ticket> = {};
  if (body.title !== undefined) {
    if (typeof body.title !== "string" || body.title.length === 0 || body.title.length > 200)
      return "title: expected 1 to 200 characters";
    fields.title = body.title;
  } else if (creating) return "title is required";
  if (body.description !== undefined) {
    if (typeof body.description !== "string") return "description: expected a string";
    fields.description = body.description;
  }
  if (body.assignee !== undefined) {
    if (body.assignee !== null && typeof body.assignee !== "string") return "assignee: expected a string or null";
    fields.assignee = body.assignee;
  }
  if (body.status !== undefined) {
    if (!STATUSES.includes(body.status as Status)) return `status: expected one of ${STATUSES.join(", ")}`;
    fields.status = body.status as Status;
  }
  return fields;
}

export async function startTicketsService(options: TicketsServiceOptions = {}): Promise<TicketsService> {
  const tickets = new Map<string, Ticket>();
  const received: ReceivedRequest[] = [];
  let next = 1;
  const add = (fields: Partial<Ticket> & { title: string }) => {
    const ticket: Ticket = {
      id: `T-${next++}`,
      assignee: null,
      status: "open",
      createdAt: new Date().toISOString(),
      ...fields,
    };
    tickets.set(ticket.id, ticket);
    return ticket;
  };
  add({ title: "Rotate the staging database password", assignee: "alice" });
  add({ title: "Flaky deploy job on main", status: "in_progress", assignee: "bob" });
  const document = await readFile(TICKETS_DOCUMENT, "utf8");

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? "/";
    received.push({ method: req.method ?? "", target, headers: { ...req.headers } });
    if (received.length > 10_000) received.shift();
    const url = new URL(target, "http://tickets.local");
    if (req.method === "GET" && url.pathname === "/openapi.yaml") {
      res.writeHead(200, { "content-type": "application/yaml" }).end(document);
      return;
    }
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      send(res, 401, { error: "missing or wrong credentials" });
      return;
    }
    if (url.pathname === "/v1/tickets") {
      if (req.method === "GET") {
        const status = url.searchParams.get("status");
        const limit = Number(url.searchParams.get("limit") ?? 20);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) return send(res, 400, { error: "limit: 1 to 100" });
        const list = [...tickets.values()].filter((t) => status === null || t.status === status).reverse();
        return send(res, 200, { tickets: list.slice(0, limit) });
      }
      if (req.method === "POST") {
        const fields = ticketFields(await readJson(req), true);
        if (typeof fields === "string") return send(res, 400, { error: fields });
        return send(res, 201, add(fields as Partial<Ticket> & { title: string }));
      }
      return send(res, 405, { error: "method not allowed" });
    }
    // Matched on the raw path: an encoded "/" stays inside the id, as a real router would see it.
    const match = /^\/v1\/tickets\/([^/]+)$/.exec(url.pathname);
    if (!match?.[1]) return send(res, 404, { error: "not found" });
    const id = decodeURIComponent(match[1]);
    const ticket = tickets.get(id);
    if (!ticket) return send(res, 404, { error: `no ticket ${id}` });
    if (req.method === "GET") return send(res, 200, ticket);
    if (req.method === "PATCH") {
      const fields = ticketFields(await readJson(req), false);
      if (typeof fields === "string") return send(res, 400, { error: fields });
      Object.assign(ticket, fields);
      return send(res, 200, ticket);
    }
    if (req.method === "DELETE") {
      tickets.delete(id);
      return send(res, 204);
    }
    send(res, 405, { error: "method not allowed" });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 400, { error: "malformed request" });
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    received,
    tickets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
