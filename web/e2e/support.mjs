// Shared pieces of the browser tests: the stack's addresses (from the environment), a Chromium
// with the production Content-Security-Policy applied to every page, checks every page must pass
// (no CSP violation, no serious or critical axe finding), the mail folder, TOTP codes, and REST
// calls for test setup.
//
// Environment (web/e2e/stack.sh prints these; a pytest fixture can set them for its own stack):
//   E2E_PAGE_URL        the web app's origin (gateway), e.g. http://127.0.0.1:28000
//   E2E_API_URL         Envoy's origin, e.g. http://127.0.0.1:28080
//   E2E_MAIL_DIR        a maildir (new/, cur/) the SMTP server writes every mail into
//   E2E_ADMIN_EMAIL     an existing admin account (make admin / business.identity.admin_cli)
//   E2E_ADMIN_PASSWORD  its password
//   CHROMIUM_PATH       default /usr/bin/chromium
//   E2E_SCREENSHOT_DIR  where screenshots.e2e.test.mjs writes (default: none, that test skips)
//   E2E_ARTIFACTS       where failure screenshots go (default web/test-results)

import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { readdir, readFile, mkdir } from "node:fs/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { contentSecurityPolicy } from "../csp.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") throw new Error(`${name} is not set (start web/e2e/stack.sh and export what it prints)`);
  return value;
}

export const PAGE = new URL(env("E2E_PAGE_URL", "http://127.0.0.1:28000")).origin;
export const API = new URL(env("E2E_API_URL", "http://127.0.0.1:28080")).origin;
export const MAIL_DIR = env("E2E_MAIL_DIR", "/tmp/web-e2e-stack/mail");
export const ADMIN = {
  email: env("E2E_ADMIN_EMAIL", "admin@example.com"),
  password: env("E2E_ADMIN_PASSWORD", "Correct-horse-battery-e2e-7"),
};
export const SCREENSHOT_DIR = process.env.E2E_SCREENSHOT_DIR || "";
const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(here, "..", "test-results");
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/**
 * The policy the gateway should send with the app (it does not yet; see the README). The tests
 * put it on every document they load, so any inline script, inline style attribute, eval or
 * stray origin shows up as a violation.
 */
export const CSP = contentSecurityPolicy([API]);

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Documents the tests re-serve (to add the CSP header) have no IP address, so Chromium would
  // treat them as public and refuse their calls to Envoy on loopback (Local Network Access).
  // Served for real, page and API are both on loopback and no such check applies.
  "--disable-features=LocalNetworkAccessChecks",
];

const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 360, height: 780 };

/** One browser per test file. */
export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A fresh context (its own cookies, like a new browser profile) and a page that records CSP
 * violations, page errors and every gRPC-Web call.
 */
export async function openPage(browser, { viewport = DESKTOP, colorScheme = "light" } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, reducedMotion: "reduce" });
  const state = { violations: [], pageErrors: [], calls: [] };
  await context.route(
    (url) => url.origin === PAGE,
    async (route) => {
      if (route.request().resourceType() !== "document") return route.continue();
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": CSP } });
    },
  );
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return instrument(await context.newPage(), state);
}

/** Records CSP violations, page errors and gRPC-Web calls of `page` into `state`. */
export function instrument(page, state) {
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to/.test(msg.text())) state.violations.push(msg.text());
  });
  page.on("pageerror", (err) => state.pageErrors.push(String(err)));
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (url.origin === API && req.method() === "POST" && url.pathname.startsWith("/trading.")) state.calls.push(url.pathname);
  });
  page.state = state;
  return page;
}

/** Another tab in the same browser context, recording into the same state. */
export async function openTab(page) {
  return instrument(await page.context().newPage(), page.state);
}

/** Fails when the page so far has had a CSP violation or an uncaught error. */
export async function expectNoViolations(page, label) {
  const inPage = await page.evaluate(() => window.__cspViolations ?? []).catch(() => []);
  const all = [...new Set([...inPage, ...page.state.violations])];
  assert.deepEqual(all, [], `${label}: Content-Security-Policy violations`);
  assert.deepEqual(page.state.pageErrors, [], `${label}: uncaught errors in the page`);
}

/** axe-core (run through the DevTools protocol, which the page's CSP does not apply to). */
export async function expectAccessible(page, label) {
  const loaded = await page.evaluate(() => typeof window.axe === "object");
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `${label}: axe found serious or critical problems`);
}

/** Both checks: call it on every page (and state) a test visits. */
export async function checkPage(page, label) {
  await expectNoViolations(page, label);
  await expectAccessible(page, label);
}

export async function failureScreenshot(page, name) {
  try {
    await mkdir(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name.replace(/\W+/g, "-")}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  } catch {
    return null;
  }
}

// ---- accounts ----

export function uniqueEmail(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}@example.com`;
}

export const PASSWORD = "Staple-battery-horse-correct-42";

/** A REST call through Envoy (test setup only; the app itself speaks gRPC-Web). */
export async function rest(method, route, body, token) {
  const res = await fetch(`${API}${route}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { raw: text };
  }
  if (!res.ok) throw new Error(`${method} ${route}: HTTP ${res.status} ${text}`);
  return json;
}

/** Registers through the API and follows the emailed link through the API: a verified account. */
export async function verifiedUser(prefix, password = PASSWORD) {
  const email = uniqueEmail(prefix);
  await rest("POST", "/api/auth/register", { email, password, displayName: prefix });
  const mail = await waitForMail(email, "Confirm your email");
  const token = new URL(mail.links[0]).searchParams.get("token");
  await rest("POST", "/api/auth/email/verify", { token, password });
  return { email, password };
}

/** A verified account an admin has moved to plan pro (POST /api/admin/users/{id}/plan), before it signs in. */
export async function proUser(prefix, password = PASSWORD) {
  const user = await verifiedUser(prefix, password);
  const { tokens } = await rest("POST", "/api/auth/login", { email: user.email, password });
  const userId = JSON.parse(Buffer.from(tokens.accessToken.split(".")[1], "base64url").toString()).sub;
  const admin = await rest("POST", "/api/auth/login", { email: ADMIN.email, password: ADMIN.password });
  await rest("POST", `/api/admin/users/${userId}/plan`, { plan: "pro" }, admin.tokens.accessToken);
  return user;
}

/** Signs in and opens the market dashboard through the nav (the session lives in memory), once it has candles. */
export async function openMarket(page, user) {
  await signIn(page, user.email, user.password);
  await page.waitForURL(`${PAGE}/account`);
  await page.getByTestId("main-nav").getByRole("link", { name: "Market" }).click();
  await page.waitForURL(/\/market/);
  // A fresh stack's ML engine may still be loading its models: the page retries until it answers.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="price-chart"]')?.dataset.bars ?? 0) > 0, null, {
    timeout: 90_000,
  });
}

// ---- mail ----

function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, "");
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    if (joined[i] === "=" && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Headers and the plain-text body of an RFC 822 message (single part or multipart). */
export function parseMail(raw) {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const at = line.indexOf(":");
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  let body = rest.join("\n\n");
  const boundary = /boundary="?([^";]+)"?/i.exec(headers["content-type"] ?? "")?.[1];
  if (boundary) {
    const part = body.split(`--${boundary}`).find((p) => /content-type:\s*text\/plain/i.test(p)) ?? "";
    return { headers, body: parseMail(part.replace(/^\r?\n/, "")).body };
  }
  const encoding = (headers["content-transfer-encoding"] ?? "").toLowerCase();
  if (encoding === "quoted-printable") body = decodeQuotedPrintable(body);
  else if (encoding === "base64") body = Buffer.from(body.replace(/\s/g, ""), "base64").toString("utf8");
  return { headers, body };
}

const taken = new Set();

/** The oldest mail to `to` (with `subject` in its subject) not handed out before, waiting for it. */
export async function waitForMail(to, subject = "", timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = [];
    for (const sub of ["new", "cur"]) {
      const dir = path.join(MAIL_DIR, sub);
      for (const name of await readdir(dir).catch(() => [])) files.push(path.join(dir, name));
    }
    files.sort();
    for (const file of files) {
      if (taken.has(file)) continue;
      const mail = parseMail(await readFile(file, "utf8"));
      const rcpt = (mail.headers.to ?? "").toLowerCase();
      if (rcpt.includes(to.toLowerCase()) && (mail.headers.subject ?? "").includes(subject)) {
        taken.add(file);
        return { ...mail, links: mail.body.match(/https?:\/\/[^\s<>"']+/g) ?? [] };
      }
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${to} with subject "${subject}" in ${MAIL_DIR}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ---- TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s) ----

function base32Decode(secret) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/[\s=]/g, "").toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    bits += v.toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

export function totp(secret, atMs = Date.now(), stepS = 30) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / stepS)));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return code.toString().padStart(6, "0");
}

/** Waits for the next 30-second step: the server accepts each step's code once only. */
export async function nextTotpStep(stepS = 30) {
  const ms = stepS * 1000 - (Date.now() % (stepS * 1000)) + 200;
  await new Promise((r) => setTimeout(r, ms));
}

// ---- UI steps ----

/** Fills a labelled field (by its visible label). */
export async function fill(page, label, value) {
  await page.getByLabel(label, { exact: true }).fill(value);
}

export async function signIn(page, email, password, { from = "/sign-in" } = {}) {
  if (from) await page.goto(`${PAGE}${from}`);
  await page.getByTestId("sign-in-form").waitFor();
  await fill(page, "Email", email);
  await fill(page, "Password", password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

export async function signOut(page) {
  await page.getByTestId("sign-out").click();
  await page.waitForURL(/\/sign-in/);
}

/** The gRPC-Web calls the page made to `method` (e.g. "AuthService/Refresh"). */
export function callsTo(page, method) {
  return page.state.calls.filter((c) => c.endsWith(method)).length;
}
