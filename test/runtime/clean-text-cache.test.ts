import { describe, expect, it } from "vitest";
import { CleanTextCache } from "../../runtime/guards/clean-text-cache.js";

describe("clean-text cache (the audit scrubber's)", () => {
  it("forgets the oldest text past its entry bound and never remembers texts past its length bound", () => {
    const cache = new CleanTextCache(2, 8);
    cache.add("one");
    cache.add("two");
    cache.add("three");
    expect([cache.has("one"), cache.has("two"), cache.has("three")]).toEqual([false, true, true]);
    cache.add("much too long");
    expect(cache.has("much too long")).toBe(false);
  });

  it("forgets the oldest texts past its character budget", () => {
    const cache = new CleanTextCache(100, 8, 10);
    cache.add("aaaa");
    cache.add("bbbb");
    cache.add("cccc");
    expect([cache.has("aaaa"), cache.has("bbbb"), cache.has("cccc")]).toEqual([false, true, true]);
  });
});
