// A new user registers, opens the emailed link, and signs in.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  PAGE,
  PASSWORD,
  checkPage,
  failureScreenshot,
  fill,
  launch,
  openPage,
  signIn,
  uniqueEmail,
  waitForMail,
} from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("register, verify by the emailed link, sign in", async (t) => {
  const page = await openPage(browser);
  try {
    const email = uniqueEmail("reg");
    await page.goto(`${PAGE}/register`);
    await page.getByTestId("register-form").waitFor();
    await checkPage(page, "register");

    // The form's own checks, next to their fields.
    await page.getByRole("button", { name: "Create account" }).click();
    assert.equal(await page.getByTestId("error-email").textContent(), "Email is required");
    assert.equal(await page.getByLabel("Email", { exact: true }).getAttribute("aria-invalid"), "true");
    await checkPage(page, "register, empty form");

    await fill(page, "Email", email);
    await fill(page, "Display name (optional)", "Reg Tester");
    await fill(page, "Password", PASSWORD);
    await fill(page, "Repeat the password", PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByTestId("register-done").waitFor();
    await checkPage(page, "register, done");

    const mail = await waitForMail(email, "Confirm your email");
    const link = mail.links.find((l) => l.includes("/verify-email?token="));
    assert.ok(link, `no verification link in: ${mail.body}`);
    assert.equal(new URL(link).origin, PAGE, "the mailed link opens the web app");

    // The link asks for the account's password: the address's owner opening a mail that someone
    // else's registration sent cannot verify that account.
    await page.goto(link);
    await page.getByTestId("verify-form").waitFor();
    await checkPage(page, "verify-email");
    await fill(page, "Password", "not the password I chose 1");
    await page.getByRole("button", { name: "Confirm address" }).click();
    await page.getByTestId("error-password").waitFor();
    await checkPage(page, "verify-email, wrong password");
    await fill(page, "Password", PASSWORD);
    await page.getByRole("button", { name: "Confirm address" }).click();
    await page.getByTestId("verify-done").waitFor();
    await checkPage(page, "verify-email, done");

    // The link works once.
    await page.goto(link);
    await fill(page, "Password", PASSWORD);
    await page.getByRole("button", { name: "Confirm address" }).click();
    await page.getByTestId("form-error").waitFor();
    assert.match(await page.getByTestId("form-error").textContent(), /invalid, expired or already used/);
    await checkPage(page, "verify-email, used link");

    await page.getByRole("link", { name: "Sign in" }).last().click();
    await signIn(page, email, PASSWORD, { from: null });
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("profile-email").waitFor();
    const profile = await page.getByTestId("profile-email").textContent();
    assert.match(profile, new RegExp(email.replace(/[.+]/g, "\\$&")));
    assert.match(profile, /verified/);
    assert.equal(await page.getByTestId("email-unverified").count(), 0);
    await checkPage(page, "account after first sign-in");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "register-and-verify")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
