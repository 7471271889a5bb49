/**
 * What a replica needs to know to serve an MCP session it did not open: who opened it and what the client
 * declared in `initialize`. Every other piece of a session (its SDK server, transport, upstream clients) is
 * rebuilt from this record by whichever replica the request reaches (./sessions.ts).
 *
 * - In memory: one process; the store outlives a bundle reload (the server hands it to the next runtime).
 * - In Redis (the bundle's `rateLimitStore`): shared by every replica. A record expires after the idle
 *   timeout and every request on the session refreshes it.
 *
 * A store that cannot answer throws {@link SessionStoreUnavailable}; the caller decides what that means.
 */
import { Redis } from "ioredis";
import type { ClientCapabilities, Implementation } from "@modelcontextprotocol/sdk/types.js";
import type { SessionBinding } from "./binding.js";
import {
  type SessionEvents,
  type StreamEventRetention,
  memorySessionEvents,
  redisSessionEvents,
} from "./session-events.js";

export interface SessionRecord {
  readonly binding: SessionBinding;
  readonly protocolVersion: string;
  readonly clientInfo: Implementation;
  readonly clientCapabilities: ClientCapabilities;
  /** Milliseconds since the epoch. */
  readonly created: number;
  /** The endpoint path the session was opened on. Absent in older records: the main MCP path. */
  readonly endpoint?: string;
  /** Progressive discovery: the tool names the client selected (./discovery.ts). */
  readonly workingSet?: readonly string[];
}

export class SessionStoreUnavailable extends Error {
  constructor(cause: unknown) {
    super(`MCP session store unavailable: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

export interface SessionRecords {
  /** `shared`: other replicas see the records (Redis). */
  readonly shared: boolean;
  save(id: string, record: SessionRecord): Promise<void>;
  load(id: string): Promise<SessionRecord | undefined>;
  /** Marks the session as used now (pushes its expiry back); false when the record is gone (ended, expired). */
  touch(id: string): Promise<boolean>;
  remove(id: string): Promise<void>;
  /** What the sessions wrote on their SSE streams, for clients that resume with `Last-Event-ID` (same store). */
  readonly events: SessionEvents;
  close(): Promise<void>;
}

/** Resumable streams off: no event is kept. */
const NO_EVENTS: StreamEventRetention = { retentionMs: 0, maxPerSession: 1 };

/** Records of one process; they expire `ttlMs` after their last use. */
export function memorySessionRecords(
  ttlMs: number,
  now: () => number = Date.now,
  retention: StreamEventRetention = NO_EVENTS,
): SessionRecords {
  const records = new Map<string, { record: SessionRecord; expires: number }>();
  const sweep = () => {
    const at = now();
    for (const [id, entry] of records) if (entry.expires <= at) records.delete(id);
  };
  return {
    shared: false,
    events: memorySessionEvents(retention, now),
    save: async (id, record) => {
      sweep();
      records.set(id, { record, expires: now() + ttlMs });
    },
    load: async (id) => {
      const entry = records.get(id);
      return entry && entry.expires > now() ? entry.record : undefined;
    },
    touch: async (id) => {
      const entry = records.get(id);
      if (!entry || entry.expires <= now()) return false;
      entry.expires = now() + ttlMs;
      return true;
    },
    remove: async (id) => void records.delete(id),
    close: async () => {},
  };
}

/** Records in Redis under `${keyPrefix}<session id>`, expiring `ttlMs` after their last use. */
export function redisSessionRecords(
  url: string,
  keyPrefix: string,
  ttlMs: number,
  retention: StreamEventRetention = NO_EVENTS,
): SessionRecords {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // ioredis reports connection errors as events; without a listener they would crash the process.
  redis.on("error", () => {});
  const key = (id: string) => `${keyPrefix}${id}`;
  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      await connected(redis, 1000);
      return await run();
    } catch (error) {
      throw new SessionStoreUnavailable(error);
    }
  };
  const events = redisSessionEvents(redis, `${keyPrefix}events:`, retention);
  // While Redis is down, events are kept by this replica (a session it holds keeps working, resumable here);
  // their ids are plain numbers, Redis's are `<ms>-<seq>`, so a later request finds the right log.
  const local = memorySessionEvents(retention);
  const inRedis = (eventId: string) => /^\d+-\d+$/.test(eventId);
  return {
    shared: true,
    events: {
      forSession: (sessionId) => {
        const store = events.forSession(sessionId);
        const fallback = local.forSession(sessionId);
        return {
          storeEvent: (streamId, message) =>
            call(() => store.storeEvent(streamId, message)).catch(() => fallback.storeEvent(streamId, message)),
          getStreamIdForEventId: (eventId) =>
            inRedis(eventId)
              ? call(() => store.getStreamIdForEventId(eventId))
              : fallback.getStreamIdForEventId(eventId),
          replayEventsAfter: (eventId, sink) =>
            inRedis(eventId)
              ? call(() => store.replayEventsAfter(eventId, sink))
              : fallback.replayEventsAfter(eventId, sink),
        };
      },
      forget: async (sessionId) => {
        await local.forget(sessionId);
        await call(() => events.forget(sessionId));
      },
    },
    save: (id, record) => call(async () => void (await redis.set(key(id), JSON.stringify(record), "PX", ttlMs))),
    load: (id) =>
      call(async () => {
        const raw = await redis.get(key(id));
        return raw === null ? undefined : parseRecord(raw);
      }),
    touch: (id) => call(async () => (await redis.pexpire(key(id), ttlMs)) === 1),
    remove: (id) => call(async () => void (await redis.del(key(id)))),
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * Waits (up to `timeoutMs`) for a connection still being made; commands fail at once while there is none
 * (no offline queue: an outage must answer now, not pile requests up), so the first ones after start wait.
 */
function connected(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === "ready" || redis.status === "end") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off("ready", done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once("ready", done);
  });
}

/** A record another replica wrote; anything that is not one is treated as no session. */
function parseRecord(raw: string): SessionRecord | undefined {
  try {
    const value = JSON.parse(raw) as Partial<SessionRecord>;
    const b = value.binding;
    if (!b || typeof b.issuer !== "string" || typeof b.subject !== "string") return undefined;
    if (typeof value.protocolVersion !== "string" || typeof value.clientInfo !== "object") return undefined;
    return {
      binding: {
        issuer: b.issuer,
        subject: b.subject,
        clientId: typeof b.clientId === "string" ? b.clientId : undefined,
        ...(typeof b.agent === "string" ? { agent: b.agent } : {}),
      },
      protocolVersion: value.protocolVersion,
      clientInfo: value.clientInfo,
      clientCapabilities: value.clientCapabilities ?? {},
      created: typeof value.created === "number" ? value.created : 0,
      ...(typeof value.endpoint === "string" ? { endpoint: value.endpoint } : {}),
      ...(Array.isArray(value.workingSet)
        ? { workingSet: value.workingSet.filter((n): n is string => typeof n === "string") }
        : {}),
    };
  } catch {
    return undefined;
  }
}
