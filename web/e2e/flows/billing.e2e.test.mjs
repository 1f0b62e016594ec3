// Billing: the pricing page (public: the plans and their prices), then a signed-in user
// subscribes: Stripe Checkout (the stack's stand-in for Stripe's hosted page) -> back on the
// billing page with pro active (Stripe's webhooks went through Envoy to the gateway), the pricing
// page marking pro as their plan (their new token carries it), its invoices, switching to yearly,
// cancel at period end and resume; an admin refunds part of a payment from the revenue page.
// No CSP violation, no serious axe finding.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, PAGE, checkPage, failureScreenshot, launch, openPage, rest, signIn, verifiedUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const planCard = (page, id) => page.locator(`[data-testid="plan-card"][data-plan="${id}"]`);

test("the pricing page lists free and pro with prices, and asks a visitor to sign in", async (t) => {
  const page = await openPage(browser);
  try {
    await page.goto(`${PAGE}/pricing`);
    await planCard(page, "pro").waitFor();
    assert.equal(await page.getByTestId("plan-card").count(), 2);
    const prices = await planCard(page, "pro").getByTestId("plan-price").allInnerTexts();
    assert.ok(prices.some((p) => p.includes("$19.00") && p.includes("per month")), prices.join(" | "));
    assert.ok(prices.some((p) => p.includes("$190.00") && p.includes("per year")), prices.join(" | "));
    assert.equal(await page.getByTestId("subscribe-monthly").count(), 0, "no checkout before signing in");
    await page.getByRole("link", { name: "Sign in" }).first().waitFor();
    await checkPage(page, "pricing (visitor)");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "pricing-visitor")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("a user subscribes through checkout, gets pro, cancels at period end and resumes", async (t) => {
  const user = await verifiedUser("billing");
  const page = await openPage(browser);
  try {
    await signIn(page, user.email, user.password, { from: "/sign-in?redirect=%2Fbilling" });
    await page.waitForURL(`${PAGE}/billing`);
    assert.equal(await page.getByTestId("billing-plan").innerText(), "free");
    await page.getByRole("link", { name: "See the plans" }).click();
    await page.waitForURL(`${PAGE}/pricing`);
    await page.getByTestId("subscribe-monthly").click();

    // Stripe's hosted page (the stand-in), then back to the app.
    await page.waitForURL(/\/checkout\/cs_test_/);
    assert.match(await page.getByTestId("amount").innerText(), /19\.00 usd \/ month/);
    await page.getByRole("button", { name: "Pay" }).click();
    // Back from another site the session is still there (the edge's refresh cookie): no sign-in.
    await page.waitForURL(new RegExp(`^${PAGE}/billing\\?checkout=success`));
    await page.getByTestId("checkout-success").waitFor();
    await page.getByText("active", { exact: true }).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId("billing-plan").innerText(), "pro");
    // The first invoice, paid, and the next one.
    await page.locator('[data-testid="invoice-row"][data-status="paid"]').first().waitFor({ timeout: 30_000 });
    assert.match(await page.getByTestId("next-invoice").innerText(), /\$19\.00/);
    await checkPage(page, "billing (pro)");

    await page.getByTestId("switch-interval").click();
    await page.getByRole("button", { name: "Switch to monthly" }).waitFor();
    assert.match(await page.getByTestId("next-invoice").innerText(), /\$190\.00/);

    await page.getByTestId("cancel-subscription").click();
    await page.getByTestId("resume-subscription").waitFor();
    assert.match(await page.locator("dt", { hasText: "Ends on" }).innerText(), /Ends on/);
    await page.getByTestId("resume-subscription").click();
    await page.getByTestId("cancel-subscription").waitFor();

    // The session's token carries the new plan: the pricing page marks pro as theirs.
    await page.getByRole("link", { name: "Plans and prices" }).click();
    await planCard(page, "pro").getByText("Your plan").waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId("subscribe-monthly").count(), 0);
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "billing-checkout")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("an admin refunds part of a subscriber's payment from the revenue page", async (t) => {
  const user = await verifiedUser("refund");
  const { tokens } = await rest("POST", "/api/auth/login", { email: user.email, password: user.password });
  const { user: me } = await rest("GET", "/api/users/me", undefined, tokens.accessToken);
  const checkout = await rest("POST", "/api/billing/checkout-sessions", { interval: "BILLING_INTERVAL_MONTHLY" }, tokens.accessToken);
  const paid = await fetch(`${checkout.url}/pay`, { method: "POST", redirect: "manual" });
  assert.equal(paid.status, 303);
  const page = await openPage(browser);
  try {
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.waitForURL(/\/account|\/admin/);
    await page.getByTestId("main-nav").getByRole("link", { name: "Revenue" }).click();
    await page.waitForURL(`${PAGE}/admin/billing`);
    await page.getByTestId("billing-figures").waitFor();
    await page.getByLabel("User id").fill(me.id);
    await page.getByRole("button", { name: "Show customer" }).click();
    const payment = page.getByTestId("payment-row").first();
    await payment.waitFor();
    await payment.getByLabel("Amount").fill("5");
    await payment.getByRole("button", { name: "Refund" }).click();
    await page.getByTestId("refunds").getByText("$5.00").waitFor();
    assert.equal(await payment.getByTestId("payment-refunded").innerText(), "$5.00");
    await checkPage(page, "admin revenue");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "admin-refund")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});
