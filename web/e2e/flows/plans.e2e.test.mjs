// Plans in the app: a free user sees what pro would open as "needs plan pro — Upgrade" prompts
// where the server refused it (every horizon beyond intraday and the live stream on the market
// dashboard, the ml_signals strategy on the backtests page), each linking to /pricing; a user an
// admin has moved to pro gets those features and no prompt.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PAGE, checkPage, failureScreenshot, launch, openMarket, openPage, proUser, verifiedUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function openFromNav(page, name, path) {
  await page.getByTestId("main-nav").getByRole("link", { name }).click();
  await page.waitForURL(new RegExp(path));
}

test("a free user is offered the upgrade where pro features are refused", async (t) => {
  const user = await verifiedUser("free-plan");
  const page = await openPage(browser);
  try {
    await openMarket(page, user);

    const horizons = page.getByTestId("horizons-upgrade");
    await horizons.waitFor({ timeout: 30_000 });
    assert.match(await horizons.innerText(), /Every horizon beyond intraday needs plan pro — Upgrade/);
    assert.equal(await horizons.getAttribute("data-plan"), "pro");
    // What free may see is still shown: the intraday range.
    await page.getByTestId("prediction-row").first().waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId("prediction-row").count(), 1, "intraday only");

    const stream = page.getByTestId("stream-upgrade");
    await stream.waitFor({ timeout: 60_000 });
    assert.match(await stream.innerText(), /The live stream needs plan pro — Upgrade/);
    assert.equal(await page.getByTestId("stream-state").getAttribute("data-state"), "needs-plan", "not reopened");
    await checkPage(page, "market with upgrade prompts");

    await openFromNav(page, "Backtests", "/backtests");
    await page.getByTestId("backtest-form").waitFor({ timeout: 90_000 });
    await page.getByTestId("backtest-form").getByLabel("Strategy").selectOption("ml_signals");
    await page.getByTestId("strategy-params").waitFor();
    await page.getByTestId("run-backtest").click();
    const backtest = page.getByTestId("backtest-upgrade");
    await backtest.waitFor({ timeout: 45_000 });
    assert.match(await backtest.innerText(), /The ml_signals strategy needs plan pro — Upgrade/);
    await checkPage(page, "backtests with an upgrade prompt");

    await backtest.getByRole("link", { name: "Upgrade" }).click();
    await page.waitForURL(`${PAGE}/pricing`);
    await page.locator('[data-testid="plan-card"][data-plan="pro"]').waitFor();
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "plans-free")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("a user an admin moved to pro gets every horizon and the live stream, without prompts", async (t) => {
  const user = await proUser("pro-plan");
  const page = await openPage(browser);
  try {
    await openMarket(page, user);
    await page.locator('[data-testid="stream-state"][data-state="live"]').waitFor({ timeout: 60_000 });
    await page.getByTestId("prediction-row").first().waitFor({ timeout: 30_000 });
    assert.ok((await page.getByTestId("prediction-row").count()) > 1, "more horizons than intraday");
    assert.equal(await page.getByTestId("horizons-upgrade").count(), 0);
    assert.equal(await page.getByTestId("stream-upgrade").count(), 0);
    await checkPage(page, "market as pro");
    // Billing says pro too (the account's plan), with nothing to pay and no offer to subscribe.
    await page.goto(`${PAGE}/billing`);
    await page.getByTestId("plan-granted").waitFor();
    assert.equal(await page.getByTestId("billing-plan").innerText(), "pro");
    assert.equal(await page.getByRole("link", { name: "See the plans" }).count(), 0);
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "plans-pro")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
