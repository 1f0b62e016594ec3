import { authClientNoCookie } from "../../api/authClient";

/**
 * Proving the account's phone number with a texted code.
 *
 * Interim implementation: the API has no "verify my phone" call for a signed-in user yet, but
 * AuthService's phone sign-in marks the number verified when its code is right. So this sends
 * a sign-in code and checks it, then ends the extra session that check opens (it goes through
 * the transport without credentials, so a refresh cookie would never be replaced). When
 * UserService gains StartPhoneVerification / ConfirmPhoneVerification, only this file changes.
 */
export interface PhoneVerification {
  /** Texts a code; resolves to the minutes it stays valid. */
  start(phoneNumber: string): Promise<number>;
  confirm(phoneNumber: string, code: string): Promise<void>;
}

export const phoneVerification: PhoneVerification = {
  async start(phoneNumber) {
    const res = await authClientNoCookie.startPhoneLogin({ phoneNumber });
    return Math.max(1, Math.round(res.expiresIn / 60));
  },
  async confirm(phoneNumber, code) {
    const res = await authClientNoCookie.verifyPhoneLogin({ phoneNumber, code });
    if (res.result.case === "tokens" && res.result.value.refreshToken) {
      await authClientNoCookie.logout({ refreshToken: res.result.value.refreshToken }).catch(() => undefined);
    }
    // A challenge (2FA on) simply expires; the number is verified either way.
  },
};
