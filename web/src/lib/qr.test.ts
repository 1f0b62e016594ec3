import { describe, expect, it } from "vitest";
import { qrPath } from "./qr";

describe("qrPath", () => {
  it("draws an otpauth URI as modules of a QR code", () => {
    const { size, d } = qrPath("otpauth://totp/Trading%20Platform:a%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Trading%20Platform");
    expect(size).toBeGreaterThanOrEqual(21);
    expect((size - 17) % 4).toBe(0); // QR sizes are 17 + 4 * version
    // The top-left finder pattern: a dark 7x7 ring starts at (0, 0).
    expect(d.startsWith("M0 0h1v1h-1z")).toBe(true);
  });
});
