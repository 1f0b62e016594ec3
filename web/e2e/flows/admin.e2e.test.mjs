// An admin finds a user, suspends them (the user is refused, even mid-session), reads the audit
// log, and reinstates them; a user who is not an admin is refused the admin pages.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  ADMIN,
  PAGE,
  checkPage,
  failureScreenshot,
  fill,
  launch,
  openPage,
  signIn,
  verifiedUser,
} from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function findUserRow(page, email) {
  await fill(page, "Email or name contains", email);
  await page.getByTestId("user-filters").getByRole("button", { name: "Search" }).click();
  const row = page.locator(`[data-testid="user-row"][data-email="${email}"]`);
  await row.waitFor();
  return row;
}

test("a user who is not an admin sees no admin navigation and is refused the admin pages", async (t) => {
  const user = await verifiedUser("plain");
  const page = await openPage(browser);
  try {
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);
    const nav = page.getByTestId("main-nav");
    assert.equal(await nav.getByRole("link", { name: "Users" }).count(), 0);
    assert.equal(await nav.getByRole("link", { name: "Audit log" }).count(), 0);
    for (const path of ["/admin/users", "/admin/audit", "/admin"]) {
      // A new page load: the session comes back through the refresh cookie, still not an admin.
      await page.goto(`${PAGE}${path}`);
      await page.getByTestId("forbidden").waitFor();
      assert.equal(await page.getByTestId("users-table").count(), 0);
      await checkPage(page, `forbidden ${path}`);
    }
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "admin-refused")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("an admin suspends a user, who is refused; the audit log shows it; reinstating lets them back", async (t) => {
  const user = await verifiedUser("susp");
  const admin = await openPage(browser);
  const victim = await openPage(browser);
  try {
    // The user is signed in before the suspension.
    await signIn(victim, user.email, user.password);
    await victim.waitForURL(`${PAGE}/account`);
    await victim.getByTestId("profile-email").waitFor();

    await signIn(admin, ADMIN.email, ADMIN.password);
    await admin.waitForURL(`${PAGE}/account`);
    await admin.getByTestId("main-nav").getByRole("link", { name: "Users" }).click();
    await admin.waitForURL(`${PAGE}/admin/users`);
    await admin.getByTestId("users-table").waitFor();
    await checkPage(admin, "admin users");

    let row = await findUserRow(admin, user.email);
    await row.getByTestId("suspend-button").click();
    await admin.getByTestId("suspend-dialog").waitFor();
    await checkPage(admin, "suspend dialog");
    await fill(admin, "Reason", "e2e: abuse report");
    await admin.getByTestId("suspend-dialog").getByRole("button", { name: "Suspend" }).click();
    await admin.getByTestId("suspend-dialog").waitFor({ state: "detached" });
    row = admin.locator(`[data-testid="user-row"][data-email="${user.email}"]`);
    await admin.waitForFunction(
      (email) => document.querySelector(`[data-email="${email}"] [data-testid="user-status"]`)?.textContent === "suspended",
      user.email,
    );
    await checkPage(admin, "admin users after suspension");

    // The suspended user's next call fails, the refresh is refused: back to sign-in...
    await victim.getByLabel("Display name (optional)").fill("Still here?");
    await victim.getByRole("button", { name: "Save" }).click();
    await victim.waitForURL(/\/sign-in\?.*reason=expired/);
    await victim.getByTestId("sign-in-reason").waitFor();
    // ... and signing in is refused.
    await signIn(victim, user.email, user.password, { from: null });
    await victim.getByTestId("form-error").waitFor();
    assert.match(await victim.getByTestId("form-error").textContent(), /invalid email or password/i);
    await checkPage(victim, "suspended user refused");

    // The audit log, filtered by the user.
    await row.getByRole("link", { name: `Audit events about ${user.email}` }).click();
    await admin.waitForURL(/\/admin\/audit\?subject=/);
    await admin.locator('[data-testid="audit-row"][data-action="admin.user.suspended"]').waitFor();
    await checkPage(admin, "audit log");
    await fill(admin, "Action", "auth.login.*");
    await admin.getByRole("button", { name: "Filter" }).click();
    await admin.waitForURL(/action=auth\.login/);
    await admin.locator('[data-testid="audit-row"][data-action="auth.login.failed"]').first().waitFor();
    await admin.locator('[data-testid="audit-row"]').first().getByText("Show").click();
    await checkPage(admin, "audit log filtered, details open");

    // Reinstate.
    await admin.getByTestId("main-nav").getByRole("link", { name: "Users" }).click();
    row = await findUserRow(admin, user.email);
    await row.getByTestId("suspend-button").click();
    await admin.getByTestId("suspend-dialog").getByRole("button", { name: "Reinstate" }).click();
    await admin.waitForFunction(
      (email) => document.querySelector(`[data-email="${email}"] [data-testid="user-status"]`)?.textContent === "active",
      user.email,
    );
    await signIn(victim, user.email, user.password);
    await victim.waitForURL(`${PAGE}/account`);
  } catch (err) {
    t.diagnostic(`screenshots: ${await failureScreenshot(admin, "admin-suspend-admin")} ${await failureScreenshot(victim, "admin-suspend-user")}`);
    throw err;
  } finally {
    await admin.context().close();
    await victim.context().close();
  }
});
