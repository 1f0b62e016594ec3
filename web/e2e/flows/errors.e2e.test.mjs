// How errors reach people: the API's field violations next to their fields, a lock-out with its
// wait, and the ML engine's absence as a banner while the rest keeps working.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  API,
  PAGE,
  PASSWORD,
  checkPage,
  failureScreenshot,
  fill,
  launch,
  openPage,
  signIn,
  uniqueEmail,
  verifiedUser,
} from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("a field violation from the API appears next to its field", async (t) => {
  const page = await openPage(browser);
  try {
    await page.goto(`${PAGE}/register`);
    await fill(page, "Email", uniqueEmail("weak"));
    // Long enough for the form's own check; the server knows it is a common password.
    await fill(page, "Password", "qwertyuiop123");
    await fill(page, "Repeat the password", "qwertyuiop123");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByTestId("error-password").waitFor();
    assert.equal(
      await page.getByTestId("error-password").textContent(),
      "Password is a commonly used password; choose another",
    );
    assert.equal(await page.getByLabel("Password", { exact: true }).getAttribute("aria-invalid"), "true");
    await checkPage(page, "register with a server-side field error");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "field-violation")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("a lock-out shows how long to wait", async (t) => {
  const user = await verifiedUser("lock");
  const page = await openPage(browser);
  try {
    await page.goto(`${PAGE}/sign-in`);
    let message = "";
    for (let i = 0; i < 8 && !/Try again in/.test(message); i++) {
      await signIn(page, user.email, `${PASSWORD}-wrong`, { from: null });
      await page.getByTestId("form-error").waitFor();
      await page.waitForFunction(() => !document.querySelector("button[aria-busy]"));
      message = (await page.getByTestId("form-error").textContent()) ?? "";
    }
    assert.match(message, /Too many attempts\. Try again in (a few seconds|\d+ s|\d+ min)\./);
    assert.equal(await page.getByRole("button", { name: "Sign in", exact: true }).isDisabled(), true);
    await checkPage(page, "sign-in locked out");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "lock-out")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("while the ML engine is unavailable a banner says so and the rest keeps working", async (t) => {
  const page = await openPage(browser);
  try {
    // Envoy's answer when the ML engine is down: grpc-status 14 (UNAVAILABLE). The stack's own ML
    // engine stays up for the other tests, so the answer is played here.
    await page.route(`${API}/trading.ml.v1.EngineService/GetStats`, async (route) => {
      if (route.request().method() === "OPTIONS") return route.continue();
      await route.fulfill({
        status: 200,
        headers: {
          "content-type": "application/grpc-web+proto",
          "grpc-status": "14",
          "grpc-message": "no healthy upstream",
          "access-control-allow-origin": PAGE,
          "access-control-expose-headers": "grpc-status, grpc-message",
        },
        body: "",
      });
    });
    await page.goto(`${PAGE}/status`);
    await page.getByTestId("ml-unavailable").waitFor();
    await page.getByTestId("stats-error").waitFor();
    assert.equal(await page.getByTestId("health-status").textContent(), "ok");
    await checkPage(page, "status with the ML engine unavailable");

    // The banner stays while browsing; the account pages work.
    const user = await verifiedUser("banner");
    await signIn(page, user.email, user.password, { from: "/sign-in" });
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("profile-email").waitFor();
    // A reload starts a new page: the banner comes back with the next failing ML call only.
    assert.equal(await page.getByTestId("ml-unavailable").count(), 0);

    // When the engine answers again the banner goes.
    await page.unroute(`${API}/trading.ml.v1.EngineService/GetStats`);
    await page.getByTestId("main-nav").getByRole("link", { name: "Status" }).click();
    await page.getByTestId("stats-requests").waitFor();
    assert.equal(await page.getByTestId("ml-unavailable").count(), 0);
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "ml-banner")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
