// Admin actions on the ML engine: a model version (re)activated from the model versions page, and
// market data imports (a sample checked in a dry run; a CSV with bad rows refused, row by row).
// Each shows its result in the page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, PAGE, checkPage, failureScreenshot, fill, launch, openPage, rest, signIn } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function asAdmin(page, label) {
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.waitForURL(/\/account|\/admin/);
  await page.getByTestId("main-nav").getByRole("link", { name: label }).click();
}

test("an admin reloads a model's serving version and sees the result", async (t) => {
  const page = await openPage(browser);
  try {
    const { tokens } = await rest("POST", "/api/auth/login", { email: ADMIN.email, password: ADMIN.password });
    // A fresh stack's engine answers UNAVAILABLE (503) while it loads its models.
    let models;
    for (let tries = 0; !models; tries++) {
      try {
        ({ models } = await rest("GET", "/api/models", undefined, tokens.accessToken));
      } catch (err) {
        if (tries >= 60 || !/HTTP 503/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    assert.ok(models.length > 0, "the stack's repository has models");
    const model = models.find((m) => m.activeVersion) ?? models[0];
    await asAdmin(page, "Model versions");
    await page.waitForURL(`${PAGE}/admin/models`);
    const card = page.getByTestId(`admin-model-${model.name}`);
    await card.waitFor({ timeout: 90_000 });
    assert.equal(await page.locator('[data-testid^="admin-model-"]').count(), models.length);
    await checkPage(page, "admin model versions");
    const version = model.activeVersion || model.versions[0].version;
    await card.getByTestId(`activate-${version}`).click();
    await page.getByTestId("activate-confirm").click();
    const result = page.getByTestId("activation-result");
    await result.waitFor({ timeout: 90_000 });
    assert.match(await result.innerText(), new RegExp(`^${model.name} serves version ${version} \\(`));
    await checkPage(page, "admin model activated");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "admin-models")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("an admin checks a sample import and is shown the refused rows of a bad CSV", async (t) => {
  const page = await openPage(browser);
  try {
    await asAdmin(page, "Import");
    await page.waitForURL(`${PAGE}/admin/import`);
    await page.getByTestId("import-form").waitFor();
    await checkPage(page, "admin import");
    // The EURUSD sample, dry run (the default): counted, nothing stored.
    await page.getByTestId("import-submit").click();
    const result = page.getByTestId("import-result");
    await result.waitFor({ timeout: 60_000 });
    assert.match(await result.innerText(), /^Checked only \(dry run\), nothing stored\. EURUSD 1h: [\d,]+ rows read/);

    // A CSV whose second row has a high below its low: refused, the row named.
    await page.getByLabel("A CSV file").check();
    await page.getByTestId("import-file").setInputFiles({
      name: "bad.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(
        "time,open,high,low,close,volume\n2026-01-05 10:00,1.1,1.2,1.0,1.15,10\n2026-01-05 11:00,1.1,0.9,1.0,1.05,10\n",
      ),
    });
    await fill(page, "Symbol", "EURUSD");
    await page.getByLabel("Timeframe", { exact: true }).selectOption("1h");
    await page.getByTestId("import-dry-run").uncheck();
    await page.getByTestId("import-submit").click();
    await page.getByTestId("import-rejected").waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId("import-rejected").innerText(), /line 3/);
    await checkPage(page, "admin import refused");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "admin-import")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
