import { describe, expect, it } from "vitest";
import { decide, HOME, NAV_ITEMS, safeRedirect, visible, type GuardSession } from "./guards";

const out: GuardSession = { status: "signed-out", user: null };
const user: GuardSession = { status: "signed-in", user: { roles: ["user"] } };
const admin: GuardSession = { status: "signed-in", user: { roles: ["admin"] } };

describe("safeRedirect", () => {
  it("keeps paths of this site with their query and hash", () => {
    expect(safeRedirect("/admin/users?q=a#x")).toBe("/admin/users?q=a#x");
    expect(safeRedirect("/a/../market?symbol=EURUSD")).toBe("/market?symbol=EURUSD");
  });
  it.each([
    "https://evil.example/",
    "//evil.example/x",
    "/\\evil.example",
    "javascript:alert(1)",
    "account",
    "",
    42,
    undefined,
    "/sign-in?redirect=/x",
    "/register",
    "/oauth/callback",
    // dot segments that resolve to a protocol-relative "//host"
    "/.//evil.com",
    "/..//evil.com",
    "/%2e//evil.com",
    "/a/..//evil.com/x",
    "/a/%2e%2e//evil.com",
    "/./\\evil.com",
  ])("refuses %s", (value) => {
    expect(safeRedirect(value)).toBe(HOME);
  });
});

describe("decide", () => {
  it("sends visitors who are not signed in to sign-in, remembering where they were going", () => {
    expect(decide({ kind: "signed-in" }, out, "/account/security")).toEqual({
      kind: "sign-in",
      redirect: "/account/security",
    });
    expect(decide({ kind: "role", role: "admin" }, out, "/admin/users?page=2")).toEqual({
      kind: "sign-in",
      redirect: "/admin/users?page=2",
    });
  });
  it("refuses the admin pages to a user and lets an admin in", () => {
    expect(decide({ kind: "role", role: "admin" }, user, "/admin/users")).toEqual({ kind: "forbidden" });
    expect(decide({ kind: "role", role: "admin" }, admin, "/admin/users")).toEqual({ kind: "allow" });
  });
  it("waits for nothing while restoring: a restoring session counts as signed out", () => {
    expect(decide({ kind: "signed-in" }, { status: "restoring", user: null }, "/account").kind).toBe("sign-in");
  });
  it("moves a signed-in visitor past the sign-in page", () => {
    expect(decide({ kind: "signed-out" }, user, "/sign-in")).toEqual({ kind: "redirect", to: HOME });
    expect(decide({ kind: "signed-out" }, out, "/sign-in")).toEqual({ kind: "allow" });
  });
  it("shows public pages to everyone", () => {
    expect(decide({ kind: "public" }, out, "/status")).toEqual({ kind: "allow" });
  });
});

describe("navigation", () => {
  const labels = (s: GuardSession) => visible(NAV_ITEMS, s).map((i) => i.label);
  it("shows only what the roles allow", () => {
    expect(labels(out)).toEqual(["Status", "API", "Courses"]);
    expect(labels(user)).toEqual(["Status", "API", "Market", "Backtests", "Models", "Paper trading", "Watchlists", "Alerts", "Account", "Courses", "My learning"]);
    expect(labels(admin)).toEqual([
      "Status", "API", "Market", "Backtests", "Models", "Paper trading", "Watchlists", "Alerts", "Account", "Users", "Audit log", "Model versions", "Training runs", "Import",
      "Education figures", "Revenue", "Courses", "My learning",
    ]);
    const instructor: GuardSession = { status: "signed-in", user: { roles: ["instructor", "user"] } };
    expect(labels(instructor)).toEqual([
      "Status", "API", "Market", "Backtests", "Models", "Paper trading", "Watchlists", "Alerts", "Account", "Courses", "My learning", "Authoring",
    ]);
  });
});
