import { describe, expect, it } from "vitest";
import { describeUserAgent, formatDuration, formatWait, resolveApiBaseUrl, tryAgainMessage } from "./format";

describe("resolveApiBaseUrl", () => {
  const loc = { protocol: "http:", hostname: "127.0.0.1" };
  it("defaults to Envoy on port 8080 of this host", () => {
    expect(resolveApiBaseUrl(undefined, loc)).toBe("http://127.0.0.1:8080");
    expect(resolveApiBaseUrl("  ", loc)).toBe("http://127.0.0.1:8080");
  });
  it("uses the configured URL without a trailing slash", () => {
    expect(resolveApiBaseUrl("https://api.example.com/", loc)).toBe("https://api.example.com");
  });
});

describe("formatDuration", () => {
  it("formats seconds", () => {
    expect(formatDuration(5.9)).toBe("5s");
    expect(formatDuration(3725.4)).toBe("1h 2m 5s");
    expect(formatDuration(90061)).toBe("1d 1h 1m 1s");
  });
});

describe("formatWait", () => {
  it.each([
    [0, "a moment"],
    [1500, "a few seconds"],
    [4_000, "a few seconds"],
    [5_000, "5 s"],
    [44_100, "45 s"],
    [60_000, "1 min"],
    [61_000, "2 min"],
    [4 * 60_000, "4 min"],
    [15 * 60_000, "15 min"],
    [65 * 60_000, "1 h 5 min"],
    [120 * 60_000, "2 h"],
  ])("%d ms -> %s", (ms, text) => {
    expect(formatWait(ms)).toBe(text);
  });
  it("words the lock-out", () => {
    expect(tryAgainMessage(4 * 60_000)).toBe("Too many attempts. Try again in 4 min.");
    expect(tryAgainMessage(undefined)).toBe("Too many attempts. Try again later.");
  });
});

describe("describeUserAgent", () => {
  it("names browser and system", () => {
    const chrome =
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36";
    expect(describeUserAgent(chrome)).toBe("Chrome on Linux");
    expect(describeUserAgent("")).toBe("Unknown device");
    expect(describeUserAgent("curl/8.5.0")).toBe("curl");
  });
});
