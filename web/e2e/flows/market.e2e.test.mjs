// The market dashboard: candles from GetHistory, older bars on demand, an indicator from the
// catalogue, the predicted ranges and the signal, and the live prediction stream moving the
// chart (the stack's replay feed publishes a bar every few seconds). Checked at desktop width in
// the light theme and at phone width in the dark one: no CSP violation, no serious axe finding.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { API, PAGE, PHONE, checkPage, failureScreenshot, launch, openMarket, openPage, signIn, proUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const chart = (page) => page.getByTestId("price-chart");
const attr = async (page, name) => (await chart(page).getAttribute(name)) ?? "";

test("the dashboard shows candles, loads older bars, draws an indicator, shows ranges and the signal", async (t) => {
  const user = await proUser("market");
  const page = await openPage(browser);
  try {
    await openMarket(page, user);
    const bars = Number(await attr(page, "data-bars"));
    assert.ok(bars >= 100, `candles on the chart: ${bars}`);
    assert.ok(await page.locator('[data-testid="price-chart"] canvas').count() > 0, "the chart draws on a canvas");
    await page.getByTestId("prediction-row").first().waitFor({ timeout: 30_000 });
    // The calibrated range: its nominal coverage (80 %), the held-out one, and the live one (or why not yet).
    assert.match(await page.getByTestId("prediction-interval").first().innerText(), /80\s?% range · held out \d+\s?% · live (\d+\s?% of \d+|not scored yet)/);
    await page.getByTestId("signal-action").waitFor({ timeout: 30_000 });
    assert.match(await page.getByTestId("signal-action").innerText(), /^(BUY|SELL|HOLD)$/);
    await checkPage(page, "market dashboard");

    // Older bars: the button (the keyboard's way; scrolling the chart does the same).
    await page.getByTestId("follow-live").uncheck();
    // Not following, the chart shows the latest bars again, with every horizon's range from its as-of bar.
    const horizons = await page.getByTestId("prediction-row").count();
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="price-chart"]').dataset.bands) === n, horizons);
    const before = Number(await attr(page, "data-bars"));
    await page.getByTestId("load-older").click();
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="price-chart"]').dataset.bars) > n, before);

    // An indicator from the catalogue, with a generated parameter field.
    await page.getByLabel("Indicator", { exact: true }).selectOption("sma");
    await page.getByTestId("indicator-form").getByRole("spinbutton").first().fill("20");
    await page.getByTestId("add-indicator").click();
    await page.getByTestId("chosen-indicators").getByText("sma:20").waitFor();
    await checkPage(page, "market with an indicator");

    // A bad parameter is refused next to its field.
    await page.getByTestId("indicator-form").getByRole("spinbutton").first().fill("0");
    await page.getByTestId("add-indicator").click();
    await page.getByTestId("indicator-form").locator(".field-error").first().waitFor();

    // Keyboard: the timeframe radios switch with the arrow keys; the chart reloads at 4h.
    await page.getByTestId("timeframes").getByLabel("1h").focus();
    await page.keyboard.press("ArrowRight");
    await page.waitForURL(/tf=4h/);
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="price-chart"]');
      const [a, b] = [Number(el.dataset.firstTime), Number(el.dataset.lastTime)];
      return Number(el.dataset.bars) > 1 && (b - a) / (Number(el.dataset.bars) - 1) >= 4 * 3600 * 0.9;
    });
    assert.equal(await page.getByTestId("follow-live").isDisabled(), true, "no live stream at 4h");
    await checkPage(page, "market at 4h");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "market")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("the live prediction stream moves the chart, at phone width in the dark theme", async (t) => {
  const user = await proUser("live");
  const page = await openPage(browser, { viewport: PHONE, colorScheme: "dark" });
  try {
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByRole("button", { name: "Menu" }).click();
    await page.getByTestId("main-nav").getByRole("link", { name: "Market" }).click();
    await page.waitForURL(/\/market/);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="price-chart"]')?.dataset.bars ?? 0) > 0, null, {
      timeout: 90_000,
    });
    await page.locator('[data-testid="stream-state"][data-state="live"]').waitFor({ timeout: 60_000 });
    // Two bars from the stream: the chart's last bar moves forward with each.
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const last = await attr(page, "data-last-time");
      await page.waitForFunction(
        (prev) => {
          const el = document.querySelector('[data-testid="price-chart"]');
          return el.dataset.lastTime && el.dataset.lastTime !== prev;
        },
        last,
        { timeout: 60_000 },
      );
      seen.push(Number(await attr(page, "data-last-time")));
    }
    assert.ok(seen[2] > seen[1], `the last bar moved forward: ${seen.join(", ")}`);
    await page.getByText(/Live · \d+ bars? received/).waitFor();
    await checkPage(page, "market live at phone width, dark");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "market-live")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("without predictions the chart keeps working, the stream says it reconnects, and comes back", async (t) => {
  const user = await proUser("nopred");
  const page = await openPage(browser);
  // Envoy's answer when the prediction service is down: UNAVAILABLE (played, the stack stays up).
  const down = `${API}/trading.ml.v1.PredictionService/**`;
  await page.route(down, async (route) => {
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
  try {
    await openMarket(page, user);
    await page.getByTestId("predict-error").waitFor();
    await page.getByTestId("signal-error").waitFor();
    await page.locator('[data-testid="stream-state"][data-state="reconnecting"]').waitFor({ timeout: 15_000 });
    assert.match(await page.getByTestId("stream-state").innerText(), /Reconnecting in \d+ s/);
    assert.ok(Number(await attr(page, "data-bars")) > 0, "candles stay on the chart");
    await checkPage(page, "market without predictions");

    await page.unroute(down);
    await page.locator('[data-testid="stream-state"][data-state="live"]').waitFor({ timeout: 40_000 });
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "market-unavailable")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
