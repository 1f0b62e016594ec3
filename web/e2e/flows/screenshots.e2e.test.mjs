// Screenshots of the main pages at desktop and phone width, for docs/ (only when
// E2E_SCREENSHOT_DIR is set). Each page is also checked like every other: CSP and axe.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  ADMIN,
  DESKTOP,
  PAGE,
  PHONE,
  SCREENSHOT_DIR,
  checkPage,
  launch,
  openPage,
  signIn,
  verifiedUser,
} from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
  if (SCREENSHOT_DIR) await mkdir(SCREENSHOT_DIR, { recursive: true });
});
after(async () => {
  await browser?.close();
});

async function shoot(page, name, size) {
  await page.waitForLoadState("networkidle");
  await checkPage(page, `${name} (${size})`);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `web-${name}-${size}.png`), fullPage: true });
}

for (const [size, viewport] of [
  ["desktop", DESKTOP],
  ["phone", PHONE],
]) {
  test(`screenshots at ${size} width`, { skip: !SCREENSHOT_DIR && "E2E_SCREENSHOT_DIR is not set" }, async () => {
    const visitor = await openPage(browser, { viewport });
    await visitor.goto(`${PAGE}/sign-in`);
    await visitor.getByTestId("sign-in-form").waitFor();
    await shoot(visitor, "sign-in", size);
    await visitor.goto(`${PAGE}/status`);
    await visitor.getByTestId("stats-requests").waitFor();
    await shoot(visitor, "status", size);
    if (size === "phone") {
      await visitor.getByRole("button", { name: "Menu" }).click();
      await shoot(visitor, "menu", size);
    }
    await visitor.context().close();

    const user = await verifiedUser(`shot-${size}`);
    const page = await openPage(browser, { viewport });
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("profile-email").waitFor();
    await shoot(page, "account", size);
    await page.goto(`${PAGE}/account/security`); // a new page load: the refresh cookie keeps the session
    await page.getByTestId("totp-start").click();
    await page.getByTestId("totp-qr").waitFor();
    await shoot(page, "two-factor-enrolment", size);
    await page.context().close();

    const admin = await openPage(browser, { viewport });
    await signIn(admin, ADMIN.email, ADMIN.password, { from: "/sign-in?redirect=%2Fadmin%2Fusers" });
    await admin.getByTestId("users-table").waitFor();
    await shoot(admin, "admin-users", size);
    if (size === "phone") await admin.getByRole("button", { name: "Menu" }).click();
    await admin.getByTestId("main-nav").getByRole("link", { name: "Audit log" }).click();
    await admin.getByTestId("audit-table").waitFor();
    await shoot(admin, "admin-audit", size);
    await admin.context().close();

    if (size === "desktop") {
      const dark = await openPage(browser, { viewport, colorScheme: "dark" });
      await dark.goto(`${PAGE}/sign-in`);
      await dark.getByTestId("sign-in-form").waitFor();
      await shoot(dark, "sign-in-dark", size);
      await dark.context().close();
    }
  });
}
