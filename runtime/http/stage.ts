/**
 * The stages of the request path (DESIGN.md: authenticate, identify, authorize, limit, guard the request,
 * forward, guard the response, record), run the same way everywhere. A path is a list of stages; each
 * gets the request's exchange (its context and what earlier stages produced) and lets it go on or refuses
 * it. What every stage would otherwise repeat lives here, once:
 * - tracing: a traced request runs each stage in a child span `tollgate.<name>`; an untraced one runs it
 *   directly (no span, no attribute map, no closure);
 * - waiting: a stage answers at once when it can (the memory rate limiter, the request guards, a cached
 *   key) and with a promise only when it must wait (Redis, a provider). The runner goes on synchronously
 *   after a value and waits only for a promise, so a request does not pay a turn of the event loop for a
 *   stage that had its answer already.
 */
import { span, tracingActive } from "../observability/context.js";
import type { SpanAttributes } from "../observability/tracing.js";

/** A stage's answer: at once when it has it, a promise when it had to wait. */
export type MaybePromise<T> = T | Promise<T>;

export interface Stage<X, R> {
  /** Names the stage's span: `tollgate.<name>`. */
  readonly name: string;
  /** Span attributes known before the stage runs; read only when the request is traced. */
  attributes?(exchange: X): SpanAttributes;
  /** Does the stage's work: `undefined` lets the exchange go on to the next stage, a refusal ends the path. */
  run(exchange: X): MaybePromise<R | undefined>;
  /** Span attributes of what the stage decided; read only when the request is traced. */
  outcome?(exchange: X, refusal: R | undefined): SpanAttributes;
}

const NO_ATTRIBUTES: SpanAttributes = {};

/**
 * Runs `stages` in order from `from` until one refuses; returns that refusal, or `undefined` when every stage
 * let the exchange through. Synchronous as long as the stages are.
 */
export function runStages<X, R>(stages: readonly Stage<X, R>[], exchange: X, from = 0): MaybePromise<R | undefined> {
  const traced = tracingActive();
  for (let i = from; i < stages.length; i++) {
    const stage = stages[i] as Stage<X, R>;
    const result = traced ? tracedRun(stage, exchange) : stage.run(exchange);
    if (result instanceof Promise)
      return result.then((refusal) => (refusal === undefined ? runStages(stages, exchange, i + 1) : refusal));
    if (result !== undefined) return result;
  }
  return undefined;
}

/**
 * `next(value)`: at once when `value` is there, after it when it is a promise. How a stage goes on from a
 * call that may have to wait (the limiter with a Redis store) without making every request wait.
 */
export function andThen<T, R>(value: MaybePromise<T>, next: (resolved: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * Runs one call as a stage of its own (`tollgate.<name>` when traced): for a call that is not part of a
 * path's list (the tool guards inside an MCP tool call). Synchronous when `fn` is and the request is not
 * traced.
 */
export function stage<T>(
  name: string,
  attributes: SpanAttributes | undefined,
  fn: () => MaybePromise<T>,
): MaybePromise<T> {
  return tracingActive() ? span(`tollgate.${name}`, attributes ?? NO_ATTRIBUTES, fn) : fn();
}

function tracedRun<X, R>(stage: Stage<X, R>, exchange: X): Promise<R | undefined> {
  return span(`tollgate.${stage.name}`, stage.attributes?.(exchange) ?? NO_ATTRIBUTES, async (s) => {
    const refusal = await stage.run(exchange);
    if (stage.outcome) s.setAttributes(stage.outcome(exchange, refusal));
    return refusal;
  });
}
