/**
 * The stream relays' event handlers are generators that yield only when a scan really is asynchronous (a
 * secretlint pass); everything else runs synchronously, without a promise per SSE event.
 *
 * ```ts
 * const handle = function* (event: SseEvent): Step<boolean> {
 *   const result = yield* settle(scanner.push(text)); // a value now, or a yield when the scan is async
 *   ...
 * };
 * const ok = drive(handle(event)); // boolean, or a promise of it when the handler yielded
 * ```
 */
import type { MaybePromise } from "../../http/stage.js";

export type Step<T> = Generator<Promise<unknown>, T, unknown>;

/** Runs a handler to completion: synchronously when it never yields, else as a promise. */
export function drive<T>(gen: Step<T>, input?: unknown): MaybePromise<T> {
  const step = gen.next(input);
  if (!step.done) return step.value.then((value) => drive(gen, value));
  return step.value;
}

/** Inside a handler: `const r = yield* settle(x)` gives x's value, yielding only for a promise. */
export function* settle<T>(value: MaybePromise<T>): Step<T> {
  return (value instanceof Promise ? yield value : value) as T;
}
