// The interactive API reference (Swagger UI bundled into the app, no CDN) over the gateway's
// generated OpenAPI: every operation with its schemas and enums, under the app's strict CSP;
// signed in, "Try it out" carries the in-memory access token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { API, PAGE, checkPage, failureScreenshot, launch, openPage, rest, signIn, verifiedUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("the API reference lists every operation and tries GetMe with the signed-in user's token", async (t) => {
  const doc = await rest("GET", "/api/docs/openapi.json");
  const operations = Object.values(doc.paths).reduce(
    (n, item) => n + Object.keys(item).filter((k) => ["get", "post", "put", "patch", "delete"].includes(k)).length,
    0,
  );
  const user = await verifiedUser("apiref");
  const page = await openPage(browser);
  const scripts = [];
  page.on("request", (req) => {
    if (req.resourceType() === "script" || req.resourceType() === "stylesheet") scripts.push(new URL(req.url()).origin);
  });
  try {
    await signIn(page, user.email, user.password);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("main-nav").getByRole("link", { name: "API" }).click();
    await page.waitForURL(`${PAGE}/api-reference`);
    await page.locator('[data-testid="api-reference"][data-state="ready"]').waitFor({ timeout: 60_000 });
    await page.locator(".opblock").first().waitFor();
    assert.equal(await page.locator(".opblock").count(), operations, "one block per operation of the document");
    // Everything the page loaded came from the app itself (bundled, no CDN).
    assert.deepEqual([...new Set(scripts)], [PAGE]);
    await checkPage(page, "API reference");

    // GetMe: open it, its response schema is there; try it: 200 with this user's email.
    const getMe = page.locator(".opblock", { has: page.locator('[data-path="/api/users/me"]') }).filter({
      has: page.locator(".opblock-summary-method", { hasText: "GET" }),
    });
    await getMe.first().locator(".opblock-summary-control").click();
    await getMe.first().getByRole("button", { name: "Try it out" }).click();
    await getMe.first().getByRole("button", { name: "Execute" }).click();
    const status = getMe.first().locator(".live-responses-table tbody .response-col_status").first();
    await status.waitFor({ timeout: 30_000 });
    assert.equal((await status.innerText()).trim(), "200");
    assert.match(await getMe.first().locator(".live-responses-table .microlight").first().innerText(), new RegExp(user.email));
    assert.ok(API);
    await checkPage(page, "API reference, GetMe tried");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "api-reference")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
