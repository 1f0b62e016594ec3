// Models: every model of the repository with its state, provider and version, its card (held-out
// figures beside the baseline's, and its README rendered when opened), and the live scores of each horizon beside the card's figures.
// No CSP violation, no serious axe finding, at desktop width (light) and phone width (dark).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PAGE, PHONE, checkPage, failureScreenshot, launch, openPage, rest, signIn, verifiedUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

for (const [label, options] of [
  ["desktop, light", {}],
  ["phone, dark", { viewport: PHONE, colorScheme: "dark" }],
]) {
  test(`the models page shows every model with its card and the live scores (${label})`, async (t) => {
    const user = await verifiedUser("models");
    const { tokens } = await rest("POST", "/api/auth/login", { email: user.email, password: user.password });
    const { models } = await rest("GET", "/api/models", undefined, tokens.accessToken);
    const page = await openPage(browser, options);
    try {
      await signIn(page, user.email, user.password);
      await page.waitForURL(`${PAGE}/account`);
      if (options.viewport) await page.getByRole("button", { name: "Menu" }).click();
      await page.getByTestId("main-nav").getByRole("link", { name: "Models" }).click();
      await page.waitForURL(`${PAGE}/models`);
      await page.getByTestId("model-card").first().waitFor({ timeout: 90_000 });

      const cards = page.getByTestId("model-card");
      assert.equal(await cards.count(), models.length, "one card per model of the repository");
      const first = page.locator(`[data-testid="model-card"][data-model="${models[0].name}"]`);
      assert.match(await first.getByTestId("model-state").innerText(), /^(ready|loading|available|degraded)$/);
      assert.equal(await first.getByTestId("model-version").innerText(), models[0].activeVersion);
      assert.match(await first.getByTestId("model-provider").innerText(), /ExecutionProvider/);
      assert.ok((await first.getByTestId("card-figures").locator("tbody tr").count()) > 0, "the card's figures");
      // Live scores sit beside each horizon's models (the dashboard's predictions are scored).
      assert.ok((await page.getByTestId("horizon-section").count()) >= 1);
      // The card's own text, read when opened (GetModel's card_markdown), rendered as safe Markdown.
      await first.getByTestId("model-card-text").locator("summary").click();
      const markdown = first.getByTestId("model-card-markdown");
      await markdown.waitFor({ timeout: 30_000 });
      assert.equal(await markdown.locator("h1").first().innerText(), models[0].name, "the README's heading");
      assert.ok((await markdown.locator("table").count()) > 0, "the README's tables");
      assert.equal(await markdown.locator("script, iframe, [onerror], [onclick]").count(), 0);
      await checkPage(page, `models (${label})`);

      // One horizon at a time.
      await page.getByLabel("Horizon", { exact: true }).selectOption(models[0].horizon);
      assert.equal(await page.getByTestId("horizon-section").count(), 1);
      assert.equal(await cards.count(), models.filter((m) => m.horizon === models[0].horizon).length);
    } catch (err) {
      t.diagnostic(`screenshot: ${await failureScreenshot(page, `models-${label}`)}`);
      throw err;
    } finally {
      await page.context().close();
    }
  });
}
