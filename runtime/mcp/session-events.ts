/**
 * Resumable MCP streams (Streamable HTTP, `Last-Event-ID`). Every message a session's server writes on an SSE
 * stream is kept for a while, so a client whose connection dropped during a long call reconnects with
 * `Last-Event-ID` and receives what it missed, the call's result included, instead of losing it.
 *
 * - One event log per session: an event id means nothing outside its session, so a client cannot replay
 *   another session's events by sending their ids (and a session answers only its own principal, ./sessions.ts).
 * - Bounded: at most `maxPerSession` events per session (the oldest go first), kept `retentionMs` after the
 *   session's last event.
 * - In memory for one replica; in Redis, beside the session records, when replicas share sessions: a client that
 *   reconnects to another replica is replayed the events stored before it reconnected.
 */
import type { EventStore } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Redis } from "ioredis";
import type { McpConfig } from "../../policies/bundle/index.js";

export interface StreamEventRetention {
  /** How long a session's events are kept after its last one; 0 turns resumability off. */
  readonly retentionMs: number;
  /** Events kept per session, streams together. */
  readonly maxPerSession: number;
}

/** The bundle's `mcp.sessions.streamEvents` in the stores' terms (no MCP section: nothing kept). */
export function streamEventRetention(mcp: McpConfig | undefined): StreamEventRetention {
  const events = mcp?.sessions.streamEvents;
  return { retentionMs: (events?.retentionSeconds ?? 0) * 1000, maxPerSession: events?.maxPerSession ?? 16 };
}

/** The event logs of every session: the store the SDK transport of one session writes to and replays from. */
export interface SessionEvents {
  forSession(sessionId: string): Required<EventStore>;
  /** The session ended (DELETE): its events go. */
  forget(sessionId: string): Promise<void>;
}

/** A priming event (the SDK stores `{}` to hand the client a first cursor) carries nothing to replay. */
const isPriming = (message: JSONRPCMessage) => !("jsonrpc" in message);

interface StoredEvent {
  readonly seq: number;
  readonly streamId: string;
  readonly message: JSONRPCMessage;
}

const SWEEP_INTERVAL_MS = 1000;

/** Event logs of one process. Event ids are the session's own sequence numbers. */
export function memorySessionEvents(retention: StreamEventRetention, now: () => number = Date.now): SessionEvents {
  const logs = new Map<string, { next: number; events: StoredEvent[]; expires: number }>();
  // Expired logs are dropped at most once a second, not on every event (two per tool call, each a walk over every
  // session's log); reads check expiry themselves.
  let nextSweep = 0;
  const sweep = () => {
    const at = now();
    if (at < nextSweep) return;
    nextSweep = at + SWEEP_INTERVAL_MS;
    for (const [id, log] of logs) if (log.expires <= at) logs.delete(id);
  };
  const find = (sessionId: string, eventId: string) => {
    const log = logs.get(sessionId);
    if (!log || log.expires <= now() || !/^\d{1,15}$/.test(eventId)) return undefined;
    const seq = Number(eventId);
    const event = log.events.find((e) => e.seq === seq);
    return event ? { log, event } : undefined;
  };
  return {
    forSession: (sessionId) => ({
      storeEvent: async (streamId, message) => {
        sweep();
        let log = logs.get(sessionId);
        if (!log) logs.set(sessionId, (log = { next: 1, events: [], expires: 0 }));
        const seq = log.next++;
        log.events.push({ seq, streamId, message });
        if (log.events.length > retention.maxPerSession)
          log.events.splice(0, log.events.length - retention.maxPerSession);
        log.expires = now() + retention.retentionMs;
        return String(seq);
      },
      getStreamIdForEventId: async (eventId) => find(sessionId, eventId)?.event.streamId,
      replayEventsAfter: async (eventId, { send }) => {
        const found = find(sessionId, eventId);
        if (!found) throw new Error("unknown event id");
        const { streamId, seq } = found.event;
        for (const event of found.log.events)
          if (event.seq > seq && event.streamId === streamId && !isPriming(event.message))
            await send(String(event.seq), event.message);
        return streamId;
      },
    }),
    forget: async (sessionId) => void logs.delete(sessionId),
  };
}

const STREAM_ENTRY_ID = /^\d{1,20}-\d{1,20}$/;

/**
 * Event logs in Redis: one Redis stream per session under `${keyPrefix}<session id>`, trimmed to
 * `maxPerSession` entries and expiring `retentionMs` after its last event. Event ids are the entries' ids.
 */
export function redisSessionEvents(redis: Redis, keyPrefix: string, retention: StreamEventRetention): SessionEvents {
  const key = (sessionId: string) => `${keyPrefix}${sessionId}`;
  const streamOf = async (sessionId: string, eventId: string): Promise<string | undefined> => {
    if (!STREAM_ENTRY_ID.test(eventId)) return undefined;
    const [entry] = await redis.xrange(key(sessionId), eventId, eventId);
    return entry ? fieldOf(entry[1], "s") : undefined;
  };
  return {
    forSession: (sessionId) => ({
      storeEvent: async (streamId, message) => {
        const results = await redis
          .multi()
          .xadd(
            key(sessionId),
            "MAXLEN",
            "~",
            retention.maxPerSession,
            "*",
            "s",
            streamId,
            "m",
            JSON.stringify(message),
          )
          .pexpire(key(sessionId), retention.retentionMs)
          .exec();
        const [error, id] = results?.[0] ?? [new Error("no reply"), null];
        if (error || typeof id !== "string") throw error ?? new Error("XADD returned no id");
        return id;
      },
      getStreamIdForEventId: (eventId) => streamOf(sessionId, eventId),
      replayEventsAfter: async (eventId, { send }) => {
        const streamId = await streamOf(sessionId, eventId);
        if (streamId === undefined) throw new Error("unknown event id");
        const entries = await redis.xrange(key(sessionId), `(${eventId}`, "+", "COUNT", retention.maxPerSession);
        for (const [id, fields] of entries) {
          if (fieldOf(fields, "s") !== streamId) continue;
          const message = JSON.parse(fieldOf(fields, "m") ?? "{}") as JSONRPCMessage;
          if (!isPriming(message)) await send(id, message);
        }
        return streamId;
      },
    }),
    forget: async (sessionId) => void (await redis.del(key(sessionId))),
  };
}

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
