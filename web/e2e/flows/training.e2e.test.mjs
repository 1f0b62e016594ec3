// Admin: the training runs page (TrainingService). The stack serves the committed model repository,
// which a browser test must not write, so no run trains here: the page loads its (empty) list, and a
// run on a symbol the market store does not hold is refused with the error next to its field. Real
// runs, their progress stream and cancel are tested in tests/ml_engine/training_runs.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, PAGE, checkPage, failureScreenshot, fill, launch, openPage, signIn } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("an admin opens the training runs page and a bad symbol is named next to its field", async (t) => {
  const page = await openPage(browser);
  try {
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.waitForURL(/\/account|\/admin/);
    await page.getByTestId("main-nav").getByRole("link", { name: "Training runs" }).click();
    await page.waitForURL(`${PAGE}/admin/training`);
    await page.getByTestId("training-form").waitFor();
    await checkPage(page, "admin training runs");

    await fill(page, "Symbols", "NOPE");
    await fill(page, "Start (UTC)", "2017-04-19");
    await fill(page, "End (UTC, exclusive)", "2017-06-08");
    await page.getByTestId("training-submit").click();
    const error = page.getByTestId("error-symbols");
    await error.waitFor({ timeout: 60_000 });
    assert.match(await error.innerText(), /unknown symbol 'NOPE'/i);
    assert.equal(await page.getByTestId("training-run").count(), 0);
    await checkPage(page, "admin training refused");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "admin-training")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
