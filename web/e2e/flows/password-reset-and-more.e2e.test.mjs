// The remaining sign-in pages: password reset by the mailed link, phone sign-in's first step,
// and the OAuth callback page (tokens in the fragment, an error, nothing).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PAGE, checkPage, failureScreenshot, fill, launch, openPage, rest, signIn, verifiedUser, waitForMail } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("forgot password, reset by the mailed link, sign in with the new one", async (t) => {
  const user = await verifiedUser("reset");
  const page = await openPage(browser);
  try {
    await page.goto(`${PAGE}/sign-in`);
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await page.getByTestId("forgot-form").waitFor();
    await checkPage(page, "forgot password");
    await fill(page, "Email", user.email);
    await page.getByRole("button", { name: "Send the link" }).click();
    await page.getByTestId("forgot-done").waitFor();
    await checkPage(page, "forgot password, sent");

    const mail = await waitForMail(user.email, "Reset your");
    const link = mail.links.find((l) => l.includes("/reset-password?token="));
    assert.ok(link, `no reset link in: ${mail.body}`);
    await page.goto(link);
    await page.getByTestId("reset-form").waitFor();
    await checkPage(page, "reset password");
    const fresh = "Another-long-passphrase-77";
    await fill(page, "New password", "short");
    await fill(page, "Repeat the new password", "short");
    await page.getByRole("button", { name: "Change password" }).click();
    assert.equal(await page.getByTestId("error-newPassword").textContent(), "New password must be at least 12 characters");
    await fill(page, "New password", fresh);
    await fill(page, "Repeat the new password", fresh);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByTestId("reset-done").waitFor();
    await checkPage(page, "reset password, done");

    await page.getByRole("link", { name: "Sign in with the new password" }).click();
    await signIn(page, user.email, fresh, { from: null });
    await page.waitForURL(`${PAGE}/account`);
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "password-reset")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("phone sign-in asks for the number, then the code", async (t) => {
  const page = await openPage(browser);
  try {
    await page.goto(`${PAGE}/sign-in/phone`);
    await page.getByTestId("phone-start-form").waitFor();
    await checkPage(page, "phone sign-in");
    await fill(page, "Phone number", "600 111 222");
    await page.getByRole("button", { name: "Text me a code" }).click();
    assert.match(await page.getByTestId("error-phone").textContent(), /E\.164/);
    await fill(page, "Phone number", "+34 600 111 222");
    await page.getByRole("button", { name: "Text me a code" }).click();
    // The same answer whether or not an account has the number.
    await page.getByTestId("phone-verify-form").waitFor();
    await checkPage(page, "phone sign-in, code step");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "phone")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("the OAuth callback page completes a sign-in from the fragment and explains a failed or missing one", async (t) => {
  const page = await openPage(browser);
  // What pressing an OAuth button leaves in this tab (features/auth/oauthPending.ts); the callback
  // takes a result only with it, once.
  const markStarted = () =>
    page.evaluate(() => sessionStorage.setItem("oauth-pending", JSON.stringify({ nonce: "e2e0123456789abcdef", at: Date.now() })));
  const NOT_STARTED = "This sign-in link was not started here, so nothing was changed.";
  try {
    await page.goto(`${PAGE}/sign-in`);
    await markStarted();
    await page.goto(`${PAGE}/oauth/callback#error=access_denied&error_description=You%20cancelled%20the%20sign-in`);
    await page.getByTestId("oauth-error").waitFor();
    assert.equal(await page.getByTestId("oauth-error").textContent(), "You cancelled the sign-in");
    assert.equal(new URL(page.url()).hash, "", "the fragment is removed from the address bar");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("oauth-pending")), null, "the marker is used once");
    await checkPage(page, "oauth callback error");
    await page.goto(`${PAGE}/oauth/callback`);
    await page.getByTestId("oauth-error").waitFor();

    // A crafted link (no sign-in started in this tab): its text is not shown and it signs nobody in.
    await page.goto(`${PAGE}/status`); // (from /oauth/callback itself, only the fragment would change)
    await page.goto(`${PAGE}/oauth/callback#error=x&error_description=Call%20us%20at%20%2B1%20555%200100`);
    await page.getByTestId("oauth-error").waitFor();
    assert.equal(await page.getByTestId("oauth-error").textContent(), NOT_STARTED);
    await page.goto(`${PAGE}/#access_token=x&expires_in=900`);
    await page.waitForURL(`${PAGE}/oauth/callback`);
    await page.getByTestId("oauth-error").waitFor();
    assert.equal(await page.getByTestId("oauth-error").textContent(), NOT_STARTED);
    await page.goto(`${PAGE}/account`);
    await page.waitForURL(/\/sign-in\?redirect=/);

    // What the gateway's redirect carries after a successful sign-in (an access token of a real
    // session, made here by the password sign-in; oauth.e2e.test.mjs goes through a provider).
    const user = await verifiedUser("oauthcb");
    const { tokens } = await rest("POST", "/api/auth/login", { email: user.email, password: user.password });
    const fragment = new URLSearchParams({
      access_token: tokens.accessToken,
      token_type: "Bearer",
      expires_in: String(tokens.expiresIn),
      session_id: tokens.sessionId,
    });
    // Even a real token of someone else's session is refused without the marker.
    await page.goto(`${PAGE}/oauth/callback#${fragment}`);
    await page.getByTestId("oauth-error").waitFor();
    assert.equal(await page.getByTestId("oauth-error").textContent(), NOT_STARTED);
    // A result fragment that lands on the site's root (an OAUTH_SUCCESS_REDIRECT without the
    // path) is forwarded to /oauth/callback by the app.
    await markStarted();
    await page.goto(`${PAGE}/#${fragment}`);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("profile-email").waitFor();
    assert.equal(new URL(page.url()).hash, "");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "oauth-callback")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
