import { describe, expect, it } from "vitest";
import { authorize, withServer } from "./openapiDoc";

const API = "http://127.0.0.1:28080";

describe("the API reference", () => {
  it("points the document at Envoy", () => {
    expect(withServer({ openapi: "3.1.0", servers: [{ url: "/" }] }, API).servers).toEqual([
      { url: API, description: "this platform (Envoy)" },
    ]);
  });
  it("adds the access token to calls to our API", () => {
    expect(authorize({ url: `${API}/api/users/me`, headers: {} }, "tok", API).headers).toEqual({ Authorization: "Bearer tok" });
  });
  it("never sends it elsewhere, nor when signed out, nor over a given header", () => {
    expect(authorize({ url: "https://example.com/x", headers: {} }, "tok", API).headers).toEqual({});
    expect(authorize({ url: `${API}/api/users/me`, headers: {} }, null, API).headers).toEqual({});
    expect(authorize({ url: `${API}/x`, headers: { authorization: "Bearer mine" } }, "tok", API).headers).toEqual({
      authorization: "Bearer mine",
    });
  });
});
