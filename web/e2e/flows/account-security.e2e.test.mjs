// The security page's newer parts: the remaining backup codes and new ones with a fresh factor;
// linked OAuth providers with unlink (and the refusal for the last way to sign in); the
// sign-in page offering only the providers the gateway enables.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  PAGE,
  checkPage,
  failureScreenshot,
  fill,
  launch,
  openPage,
  rest,
  signIn,
  signOut,
  totp,
  verifiedUser,
} from "../support.mjs";

// The test OpenID Connect provider, when the runner passes its settings (tests/e2e/test_browser_flows.py).
const OIDC = process.env.OAUTH_GOOGLE_METADATA_URL ? new URL(process.env.OAUTH_GOOGLE_METADATA_URL).origin : "";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

// In the app (a reload would lose the in-memory session).
async function toSecurity(page) {
  await page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Security" }).click();
  await page.waitForURL(`${PAGE}/account/security`);
  await page.getByTestId("linked-providers").waitFor();
}

test("sign-in page: OAuth buttons for exactly the providers the gateway enables", async (t) => {
  const page = await openPage(browser);
  try {
    const { providers } = await rest("GET", "/api/auth/oauth/providers");
    await page.goto(`${PAGE}/sign-in`);
    await page.getByTestId("sign-in-form").waitFor();
    if (providers.length > 0) await page.getByTestId("oauth-buttons").waitFor();
    const shown = await page.locator('[data-testid^="oauth-"]:not([data-testid="oauth-buttons"])').evaluateAll((links) =>
      links.map((a) => [a.dataset.testid.replace("oauth-", ""), new URL(a.href).pathname]),
    );
    assert.deepEqual(
      shown,
      providers.map((p) => [p.name, p.startPath]),
    );
    await checkPage(page, "sign-in with OAuth buttons");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "oauth-buttons")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("backup codes: the remaining count, new codes with a fresh backup code, the old ones refused", async (t) => {
  const user = await verifiedUser("codes");
  // 2FA on through the API (the enrolment page has its own flow).
  const { tokens } = await rest("POST", "/api/auth/login", { email: user.email, password: user.password });
  const { secret } = await rest("POST", "/api/users/me/2fa/totp", {}, tokens.accessToken);
  const { backupCodes } = await rest("POST", "/api/users/me/2fa/totp/confirm", { code: totp(secret) }, tokens.accessToken);
  assert.equal(backupCodes.length, 10);

  const page = await openPage(browser);
  try {
    await signIn(page, user.email, user.password);
    await page.waitForURL(/\/sign-in\/2fa/);
    await page.getByTestId("toggle-backup").click();
    await fill(page, "Backup code", backupCodes[0]);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${PAGE}/account`);
    await toSecurity(page);
    const remaining = page.getByTestId("backup-codes-remaining");
    await remaining.waitFor();
    assert.equal(await remaining.getAttribute("data-remaining"), "9");
    assert.equal(await page.getByTestId("backup-codes-low").count(), 0);

    // A wrong code is refused in the dialog; then a fresh old backup code gives ten new ones.
    await page.getByTestId("backup-codes-regenerate").click();
    const dialog = page.getByTestId("backup-codes-dialog");
    await dialog.getByRole("button", { name: "Use a backup code" }).click();
    await fill(page, "Backup code", "zzzz-zzzz");
    await page.getByTestId("backup-codes-dialog-submit").click();
    await dialog.locator('[data-testid="form-error"], [data-testid="error-backupCode"]').first().waitFor();
    await fill(page, "Backup code", backupCodes[1]);
    await page.getByTestId("backup-codes-dialog-submit").click();
    await page.getByTestId("backup-codes").waitFor();
    const fresh = (await page.getByTestId("backup-codes").locator("code").allTextContents()).map((c) => c.trim());
    assert.equal(fresh.length, 10);
    assert.equal(fresh.filter((c) => backupCodes.includes(c)).length, 0);
    await checkPage(page, "new backup codes");
    await page.getByRole("button", { name: "I have saved them" }).click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="backup-codes-remaining"]')?.getAttribute("data-remaining") === "10",
    );
    await signOut(page);

    // An old code no longer signs in; a new one does.
    const login = await rest("POST", "/api/auth/login", { email: user.email, password: user.password });
    await assert.rejects(
      rest("POST", "/api/auth/2fa/verify", { challengeToken: login.challenge.challengeToken, backupCode: backupCodes[2] }),
    );
    await signIn(page, user.email, user.password);
    await page.waitForURL(/\/sign-in\/2fa/);
    await page.getByTestId("toggle-backup").click();
    await fill(page, "Backup code", fresh[0]);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${PAGE}/account`);
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "backup-codes")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

async function nextOAuthUser(who) {
  const res = await fetch(`${OIDC}/test/next-user`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(who),
  });
  assert.equal(res.status, 200);
}

test("linked providers: unlink one, and the only way to sign in is refused with a clear message", { skip: !OIDC && "no test OAuth provider" }, async (t) => {
  const page = await openPage(browser);
  try {
    // A password account signs in with Google for the same verified email: Google is linked.
    const user = await verifiedUser("unlink");
    await nextOAuthUser({ sub: `g-${Date.now()}`, email: user.email, email_verified: true, name: "Unlink" });
    await page.goto(`${PAGE}/sign-in`);
    await page.getByTestId("oauth-google").click();
    await page.waitForURL(`${PAGE}/account`);
    await toSecurity(page);
    await page.getByTestId("unlink-google").waitFor();
    await checkPage(page, "linked providers");
    await page.getByTestId("unlink-google").click();
    await page.getByTestId("unlink-confirm").click();
    await page.getByTestId("provider-google").getByText("not linked").waitFor();
    assert.equal(await page.getByTestId("unlink-google").count(), 0);
    await signOut(page);

    // An account made by Google sign-in alone: unlinking Google would leave no way in.
    await nextOAuthUser({ sub: `g2-${Date.now()}`, email: `only-google-${Date.now()}@example.com`, email_verified: true, name: "Only" });
    await page.goto(`${PAGE}/sign-in`);
    await page.getByTestId("oauth-google").click();
    await page.waitForURL(`${PAGE}/account`);
    await toSecurity(page);
    await page.getByTestId("unlink-google").click();
    await page.getByTestId("unlink-confirm").click();
    const error = page.getByTestId("unlink-error");
    await error.waitFor();
    assert.match(await error.textContent(), /Google is your only way to sign in/);
    assert.equal(await page.getByTestId("unlink-google").count(), 1);
    await checkPage(page, "unlink refused");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "unlink")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
