// Shadow models from the model versions page: an admin runs a non-serving version in shadow, sees
// the comparison with the serving one (metrics, Diebold-Mariano p-values, a verdict), then
// promotes it; the page says which version serves. The stack is left as found.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, PAGE, checkPage, failureScreenshot, launch, openPage, rest, signIn } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function loadedModels(token) {
  // A fresh stack's engine answers UNAVAILABLE (503) while it loads its models.
  for (let tries = 0; ; tries++) {
    try {
      return (await rest("GET", "/api/models", undefined, token)).models;
    } catch (err) {
      if (tries >= 60 || !/HTTP 503/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

test("an admin runs a version in shadow, reads the comparison and promotes it", async (t) => {
  const page = await openPage(browser);
  const { tokens } = await rest("POST", "/api/auth/login", { email: ADMIN.email, password: ADMIN.password });
  const token = tokens.accessToken;
  const models = await loadedModels(token);
  const model = models.find((m) => m.activeVersion && m.versions.length > 1);
  assert.ok(model, "a model with a serving version and another one");
  const serving = model.activeVersion;
  const candidate = model.versions.map((v) => v.version).find((v) => v !== serving);
  try {
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.waitForURL(/\/account|\/admin/);
    await page.getByTestId("main-nav").getByRole("link", { name: "Model versions" }).click();
    await page.waitForURL(`${PAGE}/admin/models`);
    await page.getByTestId("no-shadows").waitFor({ timeout: 90_000 });
    const card = page.getByTestId(`admin-model-${model.name}`);
    await card.getByTestId(`shadow-${candidate}`).click();

    // The shadow's card: three metrics compared, a p-value each, a verdict in words.
    const shadow = page.getByTestId(`shadow-${model.name}`);
    await shadow.getByTestId("shadow-comparison").waitFor({ timeout: 90_000 });
    assert.match(await page.getByTestId("activation-result").innerText(), new RegExp(`version ${candidate} runs in shadow`));
    for (const metric of ["range_mae_pct", "tp_long_brier", "tp_short_brier"]) {
      await shadow.getByTestId(`metric-${metric}`).waitFor();
    }
    assert.equal(await shadow.getByTestId("p-value").count(), 3);
    assert.match(
      await shadow.getByTestId("shadow-verdict").innerText(),
      /^(not enough data|no significant difference|shadow better|shadow worse)$/,
    );
    assert.match(await card.innerText(), /in shadow/);
    const listed = await rest("GET", "/api/admin/models/shadows", undefined, token);
    assert.deepEqual(
      listed.shadows.map((s) => [s.name, s.shadowVersion, s.activeVersion]),
      [[model.name, candidate, serving]],
    );
    await checkPage(page, "admin shadow comparison");

    await shadow.getByTestId(`promote-${model.name}`).click();
    const result = page.getByTestId("activation-result");
    await page.getByText(`${model.name} serves version ${candidate} (was ${serving}).`).waitFor({ timeout: 90_000 });
    assert.equal(await result.innerText(), `${model.name} serves version ${candidate} (was ${serving}).`);
    await page.getByTestId("no-shadows").waitFor();
    assert.equal(await card.getByTestId("active-version").innerText(), candidate);
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "admin-shadow")}`);
    throw err;
  } finally {
    await page.context().close();
    // As found: the serving version back, no shadow left.
    await rest("POST", `/api/models/${model.name}:activate`, { version: serving }, token);
    await rest("POST", `/api/admin/models/${model.name}:stop-shadow`, {}, token).catch(() => undefined);
  }
});
