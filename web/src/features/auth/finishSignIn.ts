import type { SecondFactorChallenge, TokenPair } from "@gen/trading/identity/v1/identity_pb";
import { grantOf, session } from "../../session/instance";
import { setPendingChallenge } from "./challenge";

type Result =
  | { case: "tokens"; value: TokenPair }
  | { case: "challenge"; value: SecondFactorChallenge }
  | { case: undefined; value?: undefined };

/**
 * What every sign-in step does with its answer: tokens start the session ("done"); a 2FA
 * challenge is kept for the code step ("challenge").
 */
export function finishSignIn(result: Result): "done" | "challenge" {
  if (result.case === "tokens") {
    session.signIn(grantOf(result.value));
    return "done";
  }
  if (result.case === "challenge") {
    setPendingChallenge(result.value);
    return "challenge";
  }
  throw new Error("the server answered with neither tokens nor a challenge");
}
