import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { toApiError } from "../../api/errors";
import { parseEnabledProviders } from "../auth/oauthProviders";
import { backupCodesLevel, backupCodesText, unlinkErrorMessage } from "./accountLogic";

describe("backup codes remaining", () => {
  it("warns at three or fewer and says when none are left", () => {
    expect(backupCodesLevel(10)).toBe("ok");
    expect(backupCodesLevel(4)).toBe("ok");
    expect(backupCodesLevel(3)).toBe("low");
    expect(backupCodesLevel(1)).toBe("low");
    expect(backupCodesLevel(0)).toBe("none");
  });
  it("counts in words", () => {
    expect(backupCodesText(1)).toBe("1 backup code left");
    expect(backupCodesText(7)).toBe("7 backup codes left");
    expect(backupCodesText(0)).toBe("No backup codes left");
  });
});

describe("unlink errors", () => {
  it("explains the last sign-in way", () => {
    const err = toApiError(new ConnectError("only sign-in method", Code.FailedPrecondition));
    expect(unlinkErrorMessage("github", err)).toMatch(/^GitHub is your only way to sign in/);
  });
  it("says when the provider is not linked", () => {
    const err = toApiError(new ConnectError("not linked", Code.NotFound));
    expect(unlinkErrorMessage("google", err)).toBe("Google is not linked to your account any more.");
  });
  it("keeps other messages", () => {
    const err = toApiError(new ConnectError("boom", Code.PermissionDenied));
    expect(unlinkErrorMessage("google", err)).toBe(err.message);
  });
});

describe("enabled OAuth providers", () => {
  it("takes the gateway's list, known names only, in its order", () => {
    expect(
      parseEnabledProviders({
        providers: [
          { name: "github", startPath: "/api/auth/oauth/github/start" },
          { name: "myspace", startPath: "/api/auth/oauth/myspace/start" },
          { name: "google", startPath: "/api/auth/oauth/google/start" },
          { name: "google", startPath: "/api/auth/oauth/google/start" },
        ],
      }),
    ).toEqual([
      { name: "github", startPath: "/api/auth/oauth/github/start" },
      { name: "google", startPath: "/api/auth/oauth/google/start" },
    ]);
  });
  it("never follows a start path off the gateway's OAuth routes", () => {
    expect(parseEnabledProviders({ providers: [{ name: "google", startPath: "https://evil.example/x" }] })).toEqual([
      { name: "google", startPath: "/api/auth/oauth/google/start" },
    ]);
  });
  it("reads anything else as none", () => {
    expect(parseEnabledProviders(null)).toEqual([]);
    expect(parseEnabledProviders({ providers: "google" })).toEqual([]);
    expect(parseEnabledProviders({ providers: [] })).toEqual([]);
  });
});
