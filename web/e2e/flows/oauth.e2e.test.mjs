// OAuth sign-in through the gateway's real callback, with the suite's OpenID Connect provider
// (tests/support/oidc_provider.py, E2E_OIDC_URL; tests/e2e/test_browser_flows.py sets it): the
// "Continue with Google" link, the provider's consent (auto-approved), the gateway's redirect to
// the app's /oauth/callback with the access token in the fragment and the refresh token in the
// httpOnly cookie, a reload that keeps the session, and a refused sign-in explained on the page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PAGE, checkPage, failureScreenshot, launch, openPage, uniqueEmail } from "../support.mjs";

const OIDC = process.env.E2E_OIDC_URL || "";
const skip = !OIDC && "E2E_OIDC_URL is not set (no OpenID Connect provider for this stack)";

async function provider(path, body) {
  const res = await fetch(`${OIDC}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${path}: ${await res.text()}`);
}

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("Continue with Google signs in through the gateway's callback; a reload keeps the session", { skip }, async (t) => {
  const email = uniqueEmail("oauth");
  await provider("/test/next-user", { sub: `g-${Date.now()}`, email, email_verified: true, name: "Ada OAuth" });
  const page = await openPage(browser);
  try {
    await page.goto(`${PAGE}/sign-in`);
    await page.getByTestId("oauth-google").click();
    await page.waitForURL(`${PAGE}/account`);
    assert.match(await page.getByTestId("profile-email").textContent(), new RegExp(`^${email.replace(/[.]/g, "\\.")} verified$`));
    assert.equal(new URL(page.url()).hash, "", "the fragment is gone from the address bar");
    await checkPage(page, "account after an OAuth sign-in");

    const cookies = (await page.context().cookies()).filter((c) => /refresh$/.test(c.name));
    assert.ok(cookies.length > 0 && cookies.every((c) => c.httpOnly && c.sameSite === "Strict"), "httpOnly refresh cookie");
    assert.equal(await page.evaluate(() => document.cookie), "");

    await page.reload();
    await page.getByTestId("profile-email").waitFor();
    assert.equal(page.url(), `${PAGE}/account`);

    // Signed in: a result fragment does not replace the session, even with this tab's marker.
    await page.evaluate(() => sessionStorage.setItem("oauth-pending", JSON.stringify({ nonce: "e2e0123456789abcdef", at: Date.now() })));
    await page.goto(`${PAGE}/#access_token=x&expires_in=900`);
    await page.waitForURL(`${PAGE}/account`);
    assert.match(await page.getByTestId("profile-email").textContent(), new RegExp(`^${email.replace(/[.]/g, "\\.")} verified$`));
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "oauth-sign-in")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("a refused OAuth sign-in comes back to the app with the reason", { skip }, async (t) => {
  await provider("/test/next-error", { error: "access_denied", error_description: "The user denied the request" });
  const page = await openPage(browser);
  try {
    await page.goto(`${PAGE}/sign-in`);
    await page.getByTestId("oauth-github").click();
    await page.waitForURL(`${PAGE}/oauth/callback`);
    await page.getByTestId("oauth-error").waitFor();
    assert.equal(
      await page.getByTestId("oauth-error").textContent(),
      "github did not sign you in: access_denied (The user denied the request)",
    );
    await checkPage(page, "OAuth error");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "oauth-refused")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
