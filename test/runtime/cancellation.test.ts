import { describe, expect, it } from "vitest";
import { ClientGone, RequestCancellation } from "../../runtime/http/cancellation.js";

describe("request cancellation", () => {
  it("calls each subscribed listener once with the reason, and not one that unsubscribed", () => {
    const cancellation = new RequestCancellation();
    const calls: string[] = [];
    cancellation.onCancel((reason) => calls.push(`a: ${reason.message}`));
    const unsubscribe = cancellation.onCancel(() => calls.push("b"));
    unsubscribe();
    expect(cancellation.cancelled).toBe(false);
    cancellation.cancel(new Error("client gone"));
    cancellation.cancel(new Error("again"));
    expect(cancellation.cancelled).toBe(true);
    expect(calls).toEqual(["a: client gone"]);
  });

  it("calls a listener that subscribes after the cancellation at once", () => {
    const cancellation = new RequestCancellation();
    cancellation.cancel(new Error("shutting down"));
    const calls: string[] = [];
    cancellation.onCancel((reason) => calls.push(reason.message))();
    expect(calls).toEqual(["shutting down"]);
  });

  it("says whether the client went away, as opposed to the server shutting down", () => {
    const left = new RequestCancellation();
    expect(left.clientGone).toBe(false);
    left.cancel(new ClientGone());
    expect(left.clientGone).toBe(true);
    const shutdown = new RequestCancellation();
    shutdown.cancel(new Error("the gateway is shutting down"));
    expect([shutdown.cancelled, shutdown.clientGone]).toEqual([true, false]);
  });
});
