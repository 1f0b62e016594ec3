import { describe, expect, it } from "vitest";
import { parseOAuthFragment } from "./oauthResult";

describe("parseOAuthFragment", () => {
  it("reads tokens as the gateway writes them", () => {
    expect(
      parseOAuthFragment("#access_token=a.b.c&token_type=Bearer&expires_in=900&refresh_token=r1&refresh_expires_in=604800&session_id=s1"),
    ).toEqual({ kind: "tokens", accessToken: "a.b.c", expiresIn: 900, sessionId: "s1" });
  });
  it("reads a 2FA challenge", () => {
    expect(parseOAuthFragment("#challenge_token=c1&expires_in=300&methods=totp%2Cbackup_code")).toEqual({
      kind: "challenge",
      challengeToken: "c1",
      expiresIn: 300,
      methods: ["totp", "backup_code"],
    });
  });
  it("reads an error and nothing", () => {
    expect(parseOAuthFragment("#error=access_denied&error_description=User%20cancelled")).toEqual({
      kind: "error",
      message: "User cancelled",
    });
    expect(parseOAuthFragment("")).toEqual({ kind: "none" });
  });
});
