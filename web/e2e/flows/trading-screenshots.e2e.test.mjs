// Screenshots of the trading pages (market dashboard, a backtest's results, models) for docs/,
// only when E2E_SCREENSHOT_DIR is set; each page is checked like every other: CSP and axe.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { DESKTOP, PAGE, PHONE, SCREENSHOT_DIR, checkPage, fill, launch, openPage, signIn, proUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
  if (SCREENSHOT_DIR) await mkdir(SCREENSHOT_DIR, { recursive: true });
});
after(async () => {
  await browser?.close();
});

async function shoot(page, name, size, fullPage = true) {
  await checkPage(page, `${name} (${size})`);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `web-${name}-${size}.png`), fullPage });
}

async function go(page, label, url, { menu = false } = {}) {
  if (menu) await page.getByRole("button", { name: "Menu" }).click();
  await page.getByTestId("main-nav").getByRole("link", { name: label }).click();
  await page.waitForURL(url);
}

for (const [size, viewport] of [
  ["desktop", DESKTOP],
  ["phone", PHONE],
]) {
  test(`trading screenshots at ${size} width`, { skip: !SCREENSHOT_DIR && "E2E_SCREENSHOT_DIR is not set" }, async () => {
    const user = await proUser(`shot-trading-${size}`);
    const page = await openPage(browser, { viewport });
    const menu = size === "phone";
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);

    await go(page, "Market", /\/market/, { menu });
    await page.locator('[data-testid="stream-state"][data-state="live"]').waitFor({ timeout: 90_000 });
    await page.getByTestId("signal-action").waitFor({ timeout: 30_000 });
    if (size === "desktop") {
      for (const indicator of ["bbands", "rsi"]) {
        await page.getByLabel("Indicator", { exact: true }).selectOption(indicator);
        await page.getByTestId("add-indicator").click();
      }
    }
    // A few live bars in, so the chart shows the stream's latest bar and its range.
    await page.getByText(/Live · [3-9]\d* bars received|Live · \d{2,} bars received/).waitFor({ timeout: 60_000 });
    await shoot(page, "market", size);

    await go(page, "Backtests", `${PAGE}/backtests`, { menu });
    await page.getByTestId("backtest-form").waitFor();
    await fill(page, "Start", "2017-06-01");
    await fill(page, "Walk-forward folds", "4");
    await page.getByTestId("run-backtest").click();
    await page.getByTestId("backtest-results").waitFor({ timeout: 45_000 });
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="equity-chart"]')?.dataset.points ?? 0) > 1);
    // From the metrics to the trades on the chart (the trade list below is long).
    await checkPage(page, `backtest (${size})`);
    const top = await page.getByTestId("results").boundingBox();
    const bottom = await page.getByTestId("trades-on-chart").boundingBox();
    await page.screenshot({
      path: path.join(SCREENSHOT_DIR, `web-backtest-${size}.png`),
      fullPage: true,
      clip: { x: 0, y: top.y - 8, width: viewport.width, height: bottom.y + bottom.height - top.y + 16 },
    });

    await go(page, "Models", `${PAGE}/models`, { menu });
    await page.getByTestId("model-card").first().waitFor();
    await shoot(page, "models", size, false);
    await page.context().close();
  });
}
