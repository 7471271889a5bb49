/**
 * One request's cancellation: its client went away, or the server shuts down. Stages that hold work for
 * the request (an upstream call) subscribe while they hold it.
 *
 * Plain callbacks rather than an AbortSignal: every request has one, and most are never cancelled. A
 * signal needs an AbortController per request and goes through EventTarget to subscribe and unsubscribe
 * around each upstream call; a listener set costs nothing until a request is cancelled.
 */

export interface Cancellation {
  readonly cancelled: boolean;
  /** Cancelled because the client closed the connection before its response ended (not a shutdown). */
  readonly clientGone: boolean;
  /** Calls `listener` once when the request is cancelled, at once if it is already; returns the unsubscribe. */
  onCancel(listener: (reason: Error) => void): () => void;
}

const NOTHING_TO_UNDO = () => undefined;

/** The reason of a request whose client closed the connection before its response ended. */
export class ClientGone extends Error {
  constructor() {
    super("the client went away");
  }
}

/** The cancellation the server keeps per request; `cancel` is the server's. */
export class RequestCancellation implements Cancellation {
  private reason: Error | undefined;
  /** Most requests have one listener at a time (their upstream call) or none. */
  private readonly listeners: ((reason: Error) => void)[] = [];

  get cancelled(): boolean {
    return this.reason !== undefined;
  }

  get clientGone(): boolean {
    return this.reason instanceof ClientGone;
  }

  onCancel(listener: (reason: Error) => void): () => void {
    if (this.reason) {
      listener(this.reason);
      return NOTHING_TO_UNDO;
    }
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  cancel(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    for (const listener of this.listeners.splice(0)) listener(reason);
  }
}
