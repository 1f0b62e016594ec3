// 2FA enrolment with a TOTP computed here, then sign-in with a backup code and with a TOTP.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  PAGE,
  checkPage,
  failureScreenshot,
  fill,
  launch,
  nextTotpStep,
  openPage,
  signIn,
  signOut,
  totp,
  verifiedUser,
} from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("2FA: enrol, sign in with a backup code, then with a TOTP", async (t) => {
  const user = await verifiedUser("tfa");
  const page = await openPage(browser);
  try {
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Security" }).click();
    await page.waitForURL(`${PAGE}/account/security`);
    await page.getByTestId("totp-start").click();
    await page.getByTestId("totp-qr").waitFor();
    await checkPage(page, "2FA enrolment");
    const secret = await page.getByTestId("totp-secret").getAttribute("data-secret");
    assert.match(secret, /^[A-Z2-7]{16,}$/);

    // A wrong code is refused next to the field.
    await fill(page, "Code from the app", "000000" === totp(secret) ? "111111" : "000000");
    await page.getByRole("button", { name: "Turn on two-factor authentication" }).click();
    await page.locator('[data-testid="form-error"], [data-testid="error-code"]').first().waitFor();
    await checkPage(page, "2FA enrolment, wrong code");

    await fill(page, "Code from the app", totp(secret));
    await page.getByRole("button", { name: "Turn on two-factor authentication" }).click();
    await page.getByTestId("backup-codes").waitFor();
    const codes = (await page.getByTestId("backup-codes").locator("code").allTextContents()).map((c) => c.trim());
    assert.equal(codes.length, 10);
    await checkPage(page, "2FA backup codes");
    await page.getByRole("button", { name: "I have saved them" }).click();
    await page.getByTestId("totp-on").waitFor();
    await checkPage(page, "2FA on");
    await signOut(page);

    // Backup code.
    await signIn(page, user.email, user.password);
    await page.waitForURL(/\/sign-in\/2fa/);
    await page.getByTestId("two-factor-form").waitFor();
    await checkPage(page, "2FA challenge");
    await page.getByTestId("toggle-backup").click();
    await fill(page, "Backup code", codes[0]);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${PAGE}/account`);
    await signOut(page);

    // TOTP, in a later 30-second step than the one that confirmed enrolment.
    await nextTotpStep();
    await signIn(page, user.email, user.password);
    await page.waitForURL(/\/sign-in\/2fa/);
    await fill(page, "Code", totp(secret));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("profile-email").waitFor();
    await checkPage(page, "signed in with TOTP");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "two-factor")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
