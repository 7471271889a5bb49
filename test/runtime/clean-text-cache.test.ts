import { describe, expect, it } from "vitest";
import { CleanTextCache } from "../../runtime/guards/clean-text-cache.js";

describe("clean-text cache (the audit scrubber's and the LLM request guard's)", () => {
  it("knows a long text only by all of it: same length and same ends with another middle is not known", () => {
    const cache = new CleanTextCache(100, 64 * 1024);
    const clean = `${"Please review the invoice. ".repeat(200)}Thanks.`;
    cache.add(clean);
    expect(cache.has(`${clean}`)).toBe(true);
    expect(cache.has(String(JSON.parse(JSON.stringify(clean))))).toBe(true);
    const middle = clean.length >> 1;
    const altered = `${clean.slice(0, middle)}X${clean.slice(middle + 1)}`;
    expect(altered.length).toBe(clean.length);
    expect(cache.has(altered)).toBe(false);
    expect(cache.has(clean.slice(1))).toBe(false);
  });

  it("keeps texts that share a key apart, and at most a few of them", () => {
    const cache = new CleanTextCache(100, 64 * 1024);
    const texts = Array.from({ length: 6 }, (_, i) => `${"a".repeat(40)}${i}${"b".repeat(40)}`);
    for (const text of texts) cache.add(text);
    expect(texts.map((t) => cache.has(t))).toEqual([true, true, true, true, false, false]);
    expect(cache.has(`${"a".repeat(40)}9${"b".repeat(40)}`)).toBe(false);
  });

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
