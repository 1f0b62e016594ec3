// Paper trading from a signal to P&L: on the market dashboard, one click turns the current BUY or
// SELL signal into a risk-sized bracket order (or, when the signal is HOLD, the order ticket places a
// market bracket order); the stack's bar feed fills it; the portfolio page shows the filled entry,
// its take-profit and stop-loss legs, the fill, the position with its P&L and the equity chart.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PAGE, checkPage, failureScreenshot, launch, openPage, signIn, verifiedUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("a signal becomes a filled bracket order with its P&L on the portfolio page", async (t) => {
  const user = await verifiedUser("paper");
  const page = await openPage(browser);
  try {
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);

    // A portfolio with virtual cash.
    await page.getByTestId("main-nav").getByRole("link", { name: "Paper trading" }).click();
    await page.waitForURL(/\/portfolio/);
    // A number the form cannot read is said next to its field, and nothing is sent.
    await page.getByLabel("Virtual cash (USD)").fill("1,000");
    await page.getByTestId("create-portfolio").click();
    assert.match(await page.getByTestId("error-cash").innerText(), /no commas/);
    await page.getByLabel("Virtual cash (USD)").fill("100000");
    await page.getByTestId("create-portfolio").click();
    await page.getByTestId("portfolio-equity").waitFor();
    assert.equal(await page.getByTestId("portfolio-cash").innerText(), "$100,000.00");
    {
      const ticket = page.getByTestId("order-ticket");
      await ticket.getByLabel("Quantity", { exact: true }).fill("1.9");
      await ticket.getByTestId("place-order").click();
      assert.equal(await ticket.getByTestId("error-quantity").innerText(), "Quantity must be a whole number, like 10");
      await ticket.getByLabel("Quantity", { exact: true }).fill("1");
      await page.getByText("No orders yet.").waitFor();
      assert.equal(await page.getByTestId("orders-table").count(), 0, "the refused order was not sent");
    }
    await checkPage(page, "empty portfolio");

    // The dashboard: the signal, then one click (or the ticket when the signal says HOLD).
    await page.getByTestId("main-nav").getByRole("link", { name: "Market" }).click();
    await page.waitForURL(/\/market/);
    await page.getByTestId("signal-action").waitFor({ timeout: 90_000 });
    const action = await page.getByTestId("signal-action").innerText();
    if (action === "BUY" || action === "SELL") {
      await page.getByTestId("trade-signal").click();
      await page.getByTestId("trade-signal-done").waitFor({ timeout: 30_000 });
    } else {
      const ticket = page.getByTestId("order-ticket");
      await ticket.getByLabel("Quantity", { exact: true }).fill("1000");
      await ticket.getByLabel("Take-profit (optional)").fill("9");
      await ticket.getByLabel("Stop-loss (optional)").fill("0.1");
      await ticket.getByTestId("place-order").click();
    }

    // The bar feed fills the entry; its bracket legs work until one of them fills.
    await page.getByTestId("main-nav").getByRole("link", { name: "Paper trading" }).click();
    await page.waitForURL(/\/portfolio/);
    await page.locator('[data-testid="orders-table"] tr[data-role="entry"][data-status="filled"]').waitFor({ timeout: 90_000 });
    assert.equal(await page.locator('[data-testid="orders-table"] tr[data-role="take-profit"]').count(), 1);
    assert.equal(await page.locator('[data-testid="orders-table"] tr[data-role="stop-loss"]').count(), 1);
    await page.getByTestId("fills-table").waitFor();
    await page.getByTestId("positions-table").waitFor();
    assert.match(await page.getByTestId("position-unrealised").first().innerText(), /\$/);
    await page.getByTestId("equity-chart").waitFor();
    if (action === "BUY" || action === "SELL") {
      // The signal order counts for the models behind the signal, filled, next to the models link.
      const row = page.locator('[data-testid="signal-results-table"] tbody tr').first();
      await row.waitFor({ timeout: 30_000 });
      assert.ok(Number(await row.locator("td").nth(3).innerText()) >= 1);
    }
    assert.equal(await page.getByRole("link", { name: "Compare with the models' live scores" }).count(), 1);
    await checkPage(page, "portfolio with a filled bracket order");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "paper-trading")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
