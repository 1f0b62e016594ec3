// Browser benchmarks of the market dashboard (measured, reported in web/README.md, never asserted):
//   1. navigation to the first candle: from clicking "Market" in the nav (signed in, the page's
//      chunk not loaded yet) to the chart holding its bars, on the stack of web/e2e/stack.sh;
//   2. the chart with 5,000 bars taking live updates at 10 bars per second for 10 s: the frame
//      times (requestAnimationFrame deltas) while it does, in the same Chromium.
//
//   web/e2e/stack.sh    # then: cd web && eval "$(… the exports it prints …)" && node e2e/bench-market.mjs
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DESKTOP, PAGE, launch, openPage, signIn, verifiedUser } from "./support.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const STANDALONE = path.join(here, "..", "node_modules", "lightweight-charts", "dist", "lightweight-charts.standalone.production.js");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const browser = await launch();
try {
  // ---- 1. navigation to the first candle ----
  const user = await verifiedUser("bench");
  const firstCandle = [];
  for (let i = 0; i < RUNS; i++) {
    const page = await openPage(browser, { viewport: DESKTOP });
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("profile-email").waitFor();
    const link = page.getByTestId("main-nav").getByRole("link", { name: "Market" });
    await page.evaluate(() => {
      window.__firstCandle = new Promise((resolve) => {
        const start = performance.now();
        const check = () => {
          const el = document.querySelector('[data-testid="price-chart"]');
          if (el && Number(el.dataset.bars ?? 0) > 0) {
            // The frame that paints it.
            requestAnimationFrame(() => resolve(performance.now() - start));
          } else requestAnimationFrame(check);
        };
        document.addEventListener("click", () => requestAnimationFrame(check), { once: true, capture: true });
      });
    });
    await link.click();
    firstCandle.push(await page.evaluate(() => window.__firstCandle));
    await page.context().close();
  }

  // ---- 2. 5,000 bars, 10 live bars per second ----
  const page = await browser.newPage({ viewport: DESKTOP });
  await page.setContent('<div id="c" style="width:1200px;height:600px"></div>');
  await page.addScriptTag({ content: readFileSync(STANDALONE, "utf8") });
  const frames = await page.evaluate(async () => {
    const { createChart, CandlestickSeries, LineSeries } = window.LightweightCharts;
    const chart = createChart(document.getElementById("c"), { autoSize: true, layout: { attributionLogo: false } });
    const candles = chart.addSeries(CandlestickSeries);
    const sma = chart.addSeries(LineSeries);
    const bars = [];
    let t = 1_500_000_000;
    let price = 1.1;
    for (let i = 0; i < 5000; i++) {
      const open = price;
      price *= 1 + (Math.random() - 0.5) * 0.004;
      bars.push({ time: (t += 3600), open, high: Math.max(open, price) * 1.001, low: Math.min(open, price) * 0.999, close: price });
    }
    candles.setData(bars);
    sma.setData(bars.map((b) => ({ time: b.time, value: b.close })));
    await new Promise((r) => setTimeout(r, 500));
    const deltas = [];
    let last = performance.now();
    let running = true;
    const frame = (now) => {
      deltas.push(now - last);
      last = now;
      if (running) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    const timer = setInterval(() => {
      const open = price;
      price *= 1 + (Math.random() - 0.5) * 0.004;
      const bar = { time: (t += 3600), open, high: Math.max(open, price) * 1.001, low: Math.min(open, price) * 0.999, close: price };
      candles.update(bar);
      sma.update({ time: bar.time, value: bar.close });
    }, 100);
    await new Promise((r) => setTimeout(r, 10_000));
    clearInterval(timer);
    running = false;
    return deltas.slice(1);
  });

  const ms = (x) => `${x.toFixed(1)} ms`;
  console.log(`navigation to the first candle (${RUNS} runs): median ${ms(pct(firstCandle, 50))}, max ${ms(Math.max(...firstCandle))}`);
  console.log(
    `5,000 bars + 10 updates/s for 10 s: ${frames.length} frames, frame time median ${ms(pct(frames, 50))}, ` +
      `p95 ${ms(pct(frames, 95))}, p99 ${ms(pct(frames, 99))}, max ${ms(Math.max(...frames))}, ` +
      `frames over 50 ms: ${frames.filter((f) => f > 50).length}`,
  );
} finally {
  await browser.close();
}
