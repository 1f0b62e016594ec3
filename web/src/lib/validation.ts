/**
 * Checks a form can make before it calls the API: the same rules the server applies (the
 * server stays the judge; its field violations are shown the same way). Each check returns
 * the message to show next to the field, or undefined when the value is fine.
 */
export type Check = (value: string) => string | undefined;

export const MIN_PASSWORD = 12;
export const MAX_PASSWORD = 128;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const E164 = /^\+[1-9]\d{7,14}$/;

export function required(label: string): Check {
  return (v) => (v.trim() ? undefined : `${label} is required`);
}

export const email: Check = (v) => {
  const value = v.trim();
  if (!value) return "Email is required";
  if (value.length > 254) return "Email must be at most 254 characters";
  if (!EMAIL.test(value)) return "Email is not a valid email address";
  return undefined;
};

/** A new password: 12 to 128 characters, not containing the email's local part (3+ characters). */
export function newPassword(label = "Password", emailAddress = ""): Check {
  return (v) => {
    if (!v) return `${label} is required`;
    if (v.length < MIN_PASSWORD) return `${label} must be at least ${MIN_PASSWORD} characters`;
    if (v.length > MAX_PASSWORD) return `${label} must be at most ${MAX_PASSWORD} characters`;
    const local = emailAddress.split("@")[0]?.trim().toLowerCase() ?? "";
    if (local.length >= 3 && v.toLowerCase().includes(local)) return `${label} must not contain your email address`;
    return undefined;
  };
}

export function matches(other: string, message = "The passwords do not match"): Check {
  return (v) => (v === other ? undefined : message);
}

/** Spaces, dashes and parentheses removed, as the server does. */
export function cleanPhone(v: string): string {
  return v.trim().replace(/[\s\-()]/g, "");
}

export const phone: Check = (v) => {
  const value = cleanPhone(v);
  if (!value) return "Phone number is required";
  if (!E164.test(value)) return "Phone number must be an international number in E.164 form, like +14155550123";
  return undefined;
};

/** The 6 digits of an authenticator app (spaces allowed while typing). */
export const totpCode: Check = (v) => {
  const value = v.replace(/\s/g, "");
  if (!value) return "Code is required";
  if (!/^\d{6}$/.test(value)) return "Code must be the 6 digits your authenticator app shows";
  return undefined;
};

export const smsCode: Check = (v) => {
  const value = v.replace(/\s/g, "");
  if (!value) return "Code is required";
  if (!/^\d{4,8}$/.test(value)) return "Code must be the digits of the text message";
  return undefined;
};

export const backupCode: Check = (v) => {
  const value = v.trim();
  if (!value) return "Backup code is required";
  if (value.length > 32) return "Backup code is too long";
  return undefined;
};

export function maxLength(label: string, max: number): Check {
  return (v) => (v.trim().length > max ? `${label} must be at most ${max} characters` : undefined);
}

/** Runs the checks of every field; an empty object means the form may be sent. */
export function validate<K extends string>(
  values: Record<K, string>,
  checks: Partial<Record<K, Check | Check[]>>,
): Partial<Record<K, string>> {
  const errors: Partial<Record<K, string>> = {};
  for (const key of Object.keys(checks) as K[]) {
    const list = checks[key];
    for (const check of Array.isArray(list) ? list : list ? [list] : []) {
      const message = check(values[key] ?? "");
      if (message) {
        errors[key] = message;
        break;
      }
    }
  }
  return errors;
}
