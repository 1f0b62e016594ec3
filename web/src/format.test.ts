import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { codeName, describeError, formatDuration, resolveApiBaseUrl } from "./format";

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

describe("errors", () => {
  it("names codes as on the wire", () => {
    expect(codeName(Code.Unavailable)).toBe("unavailable");
    expect(codeName(Code.DeadlineExceeded)).toBe("deadline_exceeded");
  });
  it("shows code and raw message", () => {
    const err = new ConnectError("ml engine down", Code.Unavailable);
    expect(describeError(err)).toBe("unavailable: ml engine down");
  });
  it("reports an unreachable server as unavailable", () => {
    const err = new TypeError("Failed to fetch");
    expect(describeError(err, "http://h:8080")).toBe(
      "unavailable: cannot reach http://h:8080: Failed to fetch",
    );
  });
});

describe("formatDuration", () => {
  it("formats seconds", () => {
    expect(formatDuration(5.9)).toBe("5s");
    expect(formatDuration(3725.4)).toBe("1h 2m 5s");
    expect(formatDuration(90061)).toBe("1d 1h 1m 1s");
  });
});
