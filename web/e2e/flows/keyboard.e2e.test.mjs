// The app works from the keyboard: skip link, forms submitted with Enter, focus moved to the
// new page's heading, dialogs that trap focus and close with Escape.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PAGE, checkPage, failureScreenshot, launch, openPage, rest, verifiedUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const focused = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return { tag: el?.tagName, text: (el?.textContent ?? "").trim().slice(0, 40), label: el?.getAttribute("aria-label") ?? "", name: el?.getAttribute("name") ?? "" };
  });

test("sign in, navigate and use a dialog with the keyboard alone", async (t) => {
  const user = await verifiedUser("keys");
  // A second session (another device), so that the sessions page has one to sign out.
  await rest("POST", "/api/auth/login", { email: user.email, password: user.password });
  const page = await openPage(browser);
  try {
    await page.goto(`${PAGE}/sign-in`);
    await page.getByTestId("sign-in-form").waitFor();
    await page.keyboard.press("Tab");
    assert.equal((await focused(page)).text, "Skip to content");
    await page.keyboard.press("Enter");
    assert.equal((await focused(page)).tag, "MAIN");

    await page.getByLabel("Email", { exact: true }).focus();
    await page.keyboard.type(user.email);
    await page.keyboard.press("Tab");
    assert.equal((await focused(page)).name, "password");
    await page.keyboard.type(user.password);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${PAGE}/account`);

    // Following a link moves focus to the new page's heading.
    await page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Sessions" }).focus();
    await page.keyboard.press("Enter");
    await page.getByTestId("sessions-table").waitFor();
    await page.waitForFunction(() => document.activeElement?.tagName === "H1");

    // A dialog: opened with the keyboard, Escape closes it and focus goes back.
    const signOutOther = page.locator('[data-testid="session-row"]:not([data-current]) button');
    await signOutOther.first().focus();
    await page.keyboard.press("Enter");
    await page.getByTestId("revoke-dialog").waitFor();
    const inDialog = await page.evaluate(() => Boolean(document.activeElement?.closest("dialog")));
    assert.ok(inDialog, "focus moved into the dialog");
    await checkPage(page, "revoke dialog");
    await page.keyboard.press("Escape");
    await page.getByTestId("revoke-dialog").waitFor({ state: "detached" });
    assert.match((await focused(page)).label, /^Sign out /, "focus returned to the button that opened the dialog");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "keyboard")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
