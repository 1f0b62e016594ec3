import { describe, expect, it } from "vitest";
import * as v from "./validation";

describe("validation", () => {
  it("checks emails", () => {
    expect(v.email("")).toBe("Email is required");
    expect(v.email("nope")).toBe("Email is not a valid email address");
    expect(v.email(" a@b.co ")).toBeUndefined();
  });
  it("applies the password policy the server applies", () => {
    const check = v.newPassword("Password", "maria@example.com");
    expect(check("")).toBe("Password is required");
    expect(check("short")).toBe("Password must be at least 12 characters");
    expect(check("x".repeat(129))).toBe("Password must be at most 128 characters");
    expect(check("MARIA-horse-battery")).toBe("Password must not contain your email address");
    expect(check("correct horse battery")).toBeUndefined();
    // Local parts under 3 characters match too much by chance: not checked (as on the server).
    expect(v.newPassword("Password", "al@example.com")("always-a-long-one")).toBeUndefined();
  });
  it("checks phone numbers in E.164 after removing punctuation", () => {
    expect(v.phone("+34 600-111 (222)")).toBeUndefined();
    expect(v.cleanPhone("+34 600-111 (222)")).toBe("+34600111222");
    expect(v.phone("600111222")).toMatch(/E\.164/);
    expect(v.phone("")).toBe("Phone number is required");
  });
  it("checks codes", () => {
    expect(v.totpCode("123 456")).toBeUndefined();
    expect(v.totpCode("12345")).toMatch(/6 digits/);
    expect(v.smsCode("654321")).toBeUndefined();
    expect(v.backupCode("")).toBe("Backup code is required");
  });
  it("validates a form and stops at the first failing check of each field", () => {
    const errors = v.validate(
      { email: "", password: "short", confirm: "other" },
      { email: v.email, password: [v.required("Password"), v.newPassword()], confirm: v.matches("short") },
    );
    expect(errors).toEqual({
      email: "Email is required",
      password: "Password must be at least 12 characters",
      confirm: "The passwords do not match",
    });
  });
});
