// Session handling: guards send to sign-in and back; an ended session returns to sign-in and,
// after signing in, to the same page; the access token is renewed silently; tabs share the
// session and sign out together; nothing is kept in web storage; the refresh token is an httpOnly
// cookie the edge sets, which keeps the session over a reload.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  PAGE,
  callsTo,
  checkPage,
  failureScreenshot,
  launch,
  openPage,
  openTab,
  rest,
  signIn,
  signOut,
  verifiedUser,
} from "../support.mjs";

const ACCESS_TTL_S = Number(process.env.E2E_ACCESS_TTL_S || 0);

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("a page that needs sign-in goes to sign-in and comes back after it", async (t) => {
  const user = await verifiedUser("guard");
  const page = await openPage(browser);
  try {
    await page.goto(`${PAGE}/account/security`);
    await page.waitForURL(`${PAGE}/sign-in?redirect=%2Faccount%2Fsecurity`);
    await checkPage(page, "sign-in with redirect");
    await signIn(page, user.email, user.password, { from: null });
    await page.waitForURL(`${PAGE}/account/security`);
    await page.getByTestId("totp-start").waitFor();
    await checkPage(page, "security page");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "guard")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("an ended session returns to sign-in, then to the same page", async (t) => {
  const user = await verifiedUser("expiry");
  const page = await openPage(browser);
  try {
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Sessions" }).click();
    await page.getByTestId("sessions-table").waitFor();
    await checkPage(page, "sessions");

    // From elsewhere, the same user signs out the browser's session.
    const other = await rest("POST", "/api/auth/login", { email: user.email, password: user.password });
    const token = other.tokens.accessToken;
    const { sessions } = await rest("GET", "/api/users/me/sessions", undefined, token);
    const browserSession = sessions.find((s) => !s.current);
    assert.ok(browserSession, "the browser's session is listed");
    await rest("DELETE", `/api/users/me/sessions/${browserSession.id}`, undefined, token);

    // The page's next call is refused and no refresh can save it.
    await page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Profile" }).click();
    await page.getByLabel("Display name (optional)").fill("After revocation");
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/\/sign-in\?redirect=%2Faccount&reason=expired/);
    await page.getByTestId("sign-in-reason").waitFor();
    await checkPage(page, "sign-in after the session ended");
    await signIn(page, user.email, user.password, { from: null });
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("profile-email").waitFor();
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "expiry")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("tabs share the session, refresh it silently, and sign out together; web storage stays empty", async (t) => {
  const user = await verifiedUser("tabs");
  const first = await openPage(browser);
  try {
    await signIn(first, user.email, user.password);
    await first.waitForURL(`${PAGE}/account`);
    await first.getByTestId("profile-email").waitFor();

    // A second tab of the same browser finds the session (BroadcastChannel), no sign-in.
    const second = await openTab(first);
    await second.goto(`${PAGE}/account/sessions`);
    await second.getByTestId("sessions-table").waitFor();

    if (ACCESS_TTL_S > 0 && ACCESS_TTL_S <= 60) {
      // Both tabs keep working past the access token's lifetime; one refresh at a time.
      const before = callsTo(first, "AuthService/Refresh");
      await first.waitForTimeout((ACCESS_TTL_S + 3) * 1000);
      const refreshes = callsTo(first, "AuthService/Refresh") - before;
      // Both tabs hold the same token and would renew it at the same moment: exactly one does.
      assert.equal(refreshes, 1, `${refreshes} refreshes for one token lifetime in two tabs`);
      await second.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Profile" }).click();
      await second.getByLabel("Display name (optional)").fill("Refreshed");
      await second.getByRole("button", { name: "Save" }).click();
      await second.getByTestId("toast").filter({ hasText: "Profile saved." }).waitFor();
      assert.match(second.url(), /\/account$/);
    } else {
      t.diagnostic("E2E_ACCESS_TTL_S is not set (or long): the silent refresh is not observed");
    }

    for (const p of [first, second]) {
      const stored = await p.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
      assert.deepEqual(stored, { local: 0, session: 0, cookie: "" }, "nothing in web storage or readable cookies");
    }

    // Signing out in one tab signs out the other.
    await signOut(second);
    await first.waitForURL(/\/sign-in/);
    await checkPage(first, "signed out by the other tab");
    await second.close();
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(first, "tabs")}`);
    throw err;
  } finally {
    await first.context().close();
  }
});

test("the refresh token is an httpOnly cookie: a reload keeps the session, sign-out clears it", async (t) => {
  const user = await verifiedUser("reload");
  const page = await openPage(browser);
  try {
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("profile-email").waitFor();

    // The edge set the cookie: httpOnly, SameSite=Strict, scoped to AuthService's paths; the page
    // can read neither it nor any copy of the token.
    const cookies = (await page.context().cookies()).filter((c) => /refresh$/.test(c.name));
    assert.ok(cookies.length > 0, "the edge set the refresh cookie");
    for (const cookie of cookies) {
      assert.equal(cookie.httpOnly, true, `${cookie.name} on ${cookie.path} is httpOnly`);
      assert.equal(cookie.sameSite, "Strict");
      assert.ok(["/trading.identity.v1.AuthService/", "/api/auth/"].includes(cookie.path), cookie.path);
    }
    const token = cookies[0].value;
    const visible = await page.evaluate(() => ({
      cookie: document.cookie,
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
    }));
    for (const [where, text] of Object.entries(visible)) assert.ok(!text.includes(token), `the refresh token is in ${where}`);

    // A reload finds the session again through the cookie (one Refresh), same page.
    const before = callsTo(page, "AuthService/Refresh");
    await page.reload();
    await page.getByTestId("profile-email").waitFor();
    assert.equal(page.url(), `${PAGE}/account`);
    assert.equal(callsTo(page, "AuthService/Refresh") - before, 1);
    const rotated = (await page.context().cookies()).find((c) => c.path === cookies[0].path);
    assert.ok(rotated && rotated.value !== token, "the refresh rotated the cookie");
    await checkPage(page, "account after a reload");

    // Signing out expires the cookie: a reload is signed out.
    const loggedOut = page.waitForResponse((res) => res.request().method() === "POST" && res.url().endsWith(".AuthService/Logout"));
    await signOut(page);
    await loggedOut;
    const left = (await page.context().cookies()).filter((c) => /refresh$/.test(c.name));
    assert.deepEqual(left, [], "sign-out expired the refresh cookie");
    await page.goto(`${PAGE}/account`);
    await page.waitForURL(`${PAGE}/sign-in?redirect=%2Faccount`);
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "reload")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
