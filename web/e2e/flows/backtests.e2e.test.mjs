// Backtests: the form generated from the strategy catalogue (parameters with their defaults),
// a run with costs showing metrics, equity and drawdown, trades in a sortable list and on the
// candles; the ml_signals strategy; a bad parameter refused in the page and one refused by the
// API next to its field. No CSP violation, no serious axe finding, at desktop and phone width.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PAGE, PHONE, checkPage, failureScreenshot, fill, launch, openPage, signIn, proUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function openBacktests(page, user, { menu = false } = {}) {
  await signIn(page, user.email, user.password);
  await page.waitForURL(`${PAGE}/account`);
  if (menu) await page.getByRole("button", { name: "Menu" }).click();
  await page.getByTestId("main-nav").getByRole("link", { name: "Backtests" }).click();
  await page.waitForURL(`${PAGE}/backtests`);
  // A fresh stack's ML engine may still be loading its models: the page retries until it answers.
  await page.getByTestId("backtest-form").waitFor({ timeout: 90_000 });
}

const form = (page) => page.getByTestId("backtest-form");

test("a backtest run shows metrics, curves, sortable trades and trades on the chart", async (t) => {
  const user = await proUser("bt");
  const page = await openPage(browser);
  try {
    await openBacktests(page, user);
    await form(page).getByLabel("Strategy").selectOption("sma_cross");
    const params = page.getByTestId("strategy-params");
    assert.equal(await params.getByLabel("Fast").inputValue(), "10", "the default from the catalogue");
    assert.equal(await params.getByLabel("Slow").inputValue(), "20");
    await checkPage(page, "backtest form");

    // Refused in the page: out of the catalogue's bounds.
    await fill(page, "Fast", "1");
    await page.getByTestId("run-backtest").click();
    await page.getByTestId("error-param.fast").waitFor();

    await fill(page, "Fast", "5");
    await fill(page, "Commission (% per side)", "0.01");
    await page.getByTestId("run-backtest").click();
    const results = page.getByTestId("backtest-results");
    await results.waitFor({ timeout: 45_000 });
    await page.getByTestId("metrics").getByText("Total return").waitFor();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="equity-chart"]')?.dataset.points ?? 0) > 1);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="trade-chart"]')?.dataset.bars ?? 0) > 1);
    const rows = page.getByTestId("trade-row");
    assert.ok((await rows.count()) > 1, "trades listed");

    // Sort by P&L, largest first (two clicks: ascending, then descending).
    // (The second with the keyboard.)
    await page.getByTestId("sort-pnl").click();
    await page.getByTestId("sort-pnl").focus();
    await page.keyboard.press("Enter");
    const header = page.locator("th", { has: page.getByTestId("sort-pnl") });
    assert.equal(await header.getAttribute("aria-sort"), "descending");
    const pnls = await rows.evaluateAll((els) => els.map((e) => Number(e.dataset.pnl)));
    assert.deepEqual(pnls, [...pnls].sort((a, b) => b - a));
    await checkPage(page, "backtest results");

    // Refused by the API (slow must be more than fast), next to the field.
    await fill(page, "Fast", "50");
    await fill(page, "Slow", "20");
    await page.getByTestId("run-backtest").click();
    await page.locator('[data-testid^="error-param."]').first().waitFor({ timeout: 20_000 });
    await checkPage(page, "backtest refused by the API");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "backtest")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("the ml_signals strategy runs, at phone width", async (t) => {
  const user = await proUser("btml");
  const page = await openPage(browser, { viewport: PHONE });
  try {
    await openBacktests(page, user, { menu: true });
    await form(page).getByLabel("Strategy").selectOption("ml_signals");
    await page.getByTestId("strategy-params").waitFor();
    // The intraday models were trained on data up to early January 2018: test after that.
    await fill(page, "Start", "2018-01-10");
    await page.getByTestId("run-backtest").click();
    await page.getByTestId("backtest-results").waitFor({ timeout: 45_000 });
    await page.getByTestId("metrics").getByText("Total return").waitFor();
    await checkPage(page, "ml_signals results at phone width");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "backtest-ml")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("a parameter sweep ranks the combinations of the values given", async (t) => {
  const user = await proUser("sweep");
  const page = await openPage(browser);
  try {
    await openBacktests(page, user);
    await form(page).getByLabel("Strategy").selectOption("sma_cross");
    const sweep = page.getByTestId("sweep-form");
    await sweep.getByLabel("Fast values").fill("5, 10, 30");
    await sweep.getByLabel("Slow values").fill("20, 40");
    await sweep.getByLabel("Rank by").selectOption("sharpe");
    await page.getByTestId("run-sweep").click();
    const rows = page.getByTestId("sweep-row");
    await rows.first().waitFor({ timeout: 45_000 });
    // Six combinations, fast 30 with slow 20 refused by the strategy: five ranked, best Sharpe first.
    assert.equal(await rows.count(), 5);
    assert.match(await page.getByTestId("sweep-summary").innerText(), /5 combinations .* 1 refused by the strategy/);
    const ranks = await rows.evaluateAll((els) => els.map((e) => Number(e.dataset.rank)));
    assert.deepEqual(ranks, [1, 2, 3, 4, 5]);
    const sharpes = await rows.evaluateAll((els) => els.map((e) => Number(e.dataset.sharpe)));
    assert.deepEqual(sharpes, [...sharpes].sort((a, b) => b - a));
    await checkPage(page, "sweep results");

    // Refused in the page: a value outside the catalogue's bounds, next to its field.
    await sweep.getByLabel("Fast values").fill("5, 1");
    await page.getByTestId("run-sweep").click();
    await page.getByTestId("error-sweep.fast").waitFor();
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "sweep")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
