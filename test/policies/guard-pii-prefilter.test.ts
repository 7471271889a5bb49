/**
 * The PII guard runs a detector's pattern only when one pass over the text says it could match. These
 * tests hold the prefiltered guard to the plain patterns run over the whole text: same findings, always.
 */
import { describe, expect, it } from "vitest";
import type { Finding } from "../../policies/guards/index.js";
import { BUILT_IN_PII_DETECTORS, PII_DETECTOR_ORDER, compilePiiGuard, measureText } from "../../policies/guards/pii.js";

const guard = compilePiiGuard({ mode: "mask", detectors: [...PII_DETECTOR_ORDER], extraPatterns: [] });

/** Every built-in pattern over the whole text, no prefilter: what the guard must agree with. */
function plainFind(text: string): Finding[] {
  const findings: Finding[] = [];
  const taken: [number, number][] = [];
  if (!/[\d@]/.test(text)) return findings;
  for (const name of PII_DETECTOR_ORDER) {
    const detector = BUILT_IN_PII_DETECTORS[name];
    const pattern = new RegExp(detector.pattern.source, detector.pattern.flags);
    for (const match of text.matchAll(pattern)) {
      const start = match.index;
      const end = start + match[0].length;
      if (match[0].length === 0 || (detector.accept && !detector.accept(match[0]))) continue;
      if (taken.some(([s, e]) => start < e && end > s)) continue;
      taken.push([start, end]);
      findings.push({ kind: detector.kind, start, end });
    }
  }
  return findings;
}

/** The guard finds what the plain patterns find, and never says "nothing to find" when they find something. */
const expectSameAsPlain = (text: string) => {
  const plain = plainFind(text);
  expect(guard.find(text), JSON.stringify(text)).toEqual(plain);
  if (plain.length > 0) expect(guard.mayFind(text), JSON.stringify(text)).toBe(true);
};

/** mulberry32, so a failure reproduces. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("PII prefilters", () => {
  it.each([
    ["an e-mail address that is the whole text", "jane.doe@example.com", ["email"]],
    ["an SSN that is the whole text", "123-45-6789", ["ssn"]],
    ["a card number that ends the text", "card: 4111 1111 1111 1111", ["payment-card"]],
    ["a phone number that starts the text", "(415) 555-0134 is my number", ["phone"]],
    ["an IPv4 address with one digit per part", "1.2.3.4", ["ip-address"]],
    ["an IPv6 address with one digit", "fe80::1", ["ip-address"]],
  ])("finds PII at the text's boundaries: %s", (_, text, kinds) => {
    expect(guard.find(text).map((f) => f.kind)).toEqual(kinds);
    expectSameAsPlain(text);
  });

  it.each([
    "+1 (415) 555-0134",
    "1-415-555-0134",
    "415.555.0134",
    "415 555 0134",
    "+44 20 7946 0958",
    "+49-30-1234-5678",
    "call +1 415 555 0134 today",
  ])("finds a phone number split by separators: %s", (text) => {
    expect(guard.find(text).map((f) => f.kind)).toEqual(["phone"]);
    expectSameAsPlain(text);
  });

  it.each([
    "ping @jane about it",
    "user@localhost",
    "@Component({ selector: 'app' })",
    "a@b",
    "email me at jane@ tomorrow",
    "@@@@ 2026 @@@@",
  ])("finds nothing in text with an '@' but no e-mail address: %s", (text) => {
    expect(guard.find(text)).toEqual([]);
    expectSameAsPlain(text);
  });

  it.each([
    ["fullwidth digits", "SSN １２３-４５-６７８９"],
    ["Arabic-Indic digits", "call ٤١٥-٥٥٥-٠١٣٤"],
    ["ASCII digits mixed with fullwidth ones", "card 4111 1111 1111 １１１１"],
    ["Devanagari digits around ASCII ones", "४१५ 555 0134"],
  ])("treats Unicode digits as the plain patterns do (ASCII \\d only): %s", (_, text) => {
    expect(guard.find(text)).toEqual([]);
    expectSameAsPlain(text);
  });

  it("skips the digit patterns when digits are many but never close together", () => {
    const text = "order 12345, ticket 67890, invoice 24680, amount 13579";
    expect(measureText(text)).toMatchObject({ clusterDigits: 5, clusterDots: 0 });
    expect(guard.mayFind(text)).toBe(false);
    expect(guard.find(text)).toEqual([]);
  });

  it("with an extra pattern, never claims there is nothing to find", () => {
    const withExtra = compilePiiGuard({
      mode: "mask",
      detectors: [...PII_DETECTOR_ORDER],
      extraPatterns: [{ name: "employee-id", regex: "EMP-[A-Z]{4}", flags: "" }],
    });
    expect(withExtra.mayFind("badge EMP-ABCD")).toBe(true);
    expect(withExtra.find("badge EMP-ABCD")).toEqual([{ kind: "employee-id", start: 6, end: 14 }]);
  });

  it("does not count JSON's key-value colons towards an IPv6 address", () => {
    const json = JSON.stringify({ id: "T-12345", updated: "2026-05-12", amount: "1234.56", a: 1, b: 2, c: 3, d: 4 });
    expect(measureText(json)).toMatchObject({ doubleColon: false, hexColons: 0 });
    expect(guard.mayFind(json)).toBe(false);
    expect(measureText("2001:0db8:85a3:0000:0000:8a2e:0370:7334").hexColons).toBe(7);
  });

  it("counts a cluster through two separators but not three", () => {
    expect(measureText("1 (415) 555-0134").clusterDigits).toBe(11);
    expect(measureText("415 -- 555").clusterDigits).toBe(3);
    expect(measureText("1.2.3.4").clusterDots).toBe(3);
    expect(measureText("1. 2. 3. 4").clusterDots).toBe(3);
    expect(measureText("1.2.3").clusterDots).toBe(2);
  });

  it("agrees with the plain patterns on 20,000 random texts dense in digits, separators and '@'", () => {
    const next = random(22);
    const alphabet = [...'0123456789      --..()+:::@@abcdefx_\n"', "١", "１", "\u00a0", "é"];
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(next() * 48);
      let text = "";
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(next() * alphabet.length)];
      expectSameAsPlain(text);
    }
  });

  it("agrees with the plain patterns on PII written many ways inside prose", () => {
    const next = random(7);
    const items = [
      "jane.doe@example.com",
      "123-45-6789",
      "123 45 6789",
      "4111 1111 1111 1111",
      "4111-1111-1111-1111",
      "4111111111111111",
      "(415) 555-0134",
      "+1 415.555.0134",
      "+44 20 7946 0958",
      "10.20.30.40",
      "2001:db8::ff00:42:8329",
      "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
      "fe80::",
      "::1",
      "12.34.56",
      "555-0134",
    ];
    const glue = [" ", ", ", ".", "-", "(", ")", "\n", "x", "1", "@", ":"];
    for (let i = 0; i < 5_000; i++) {
      let text = "";
      const parts = 1 + Math.floor(next() * 4);
      for (let j = 0; j < parts; j++)
        text += glue[Math.floor(next() * glue.length)]! + items[Math.floor(next() * items.length)]!;
      expectSameAsPlain(text);
    }
  });
});
