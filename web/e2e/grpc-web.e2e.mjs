#!/usr/bin/env node
// Browser test: the built page, served by the gateway, reaches Envoy over gRPC-Web (CORS included)
// from a real Chromium. Plain Node + playwright-core; no test runner, no downloaded browser.
//
// Env:
//   PAGE_URL        the page (default http://127.0.0.1:8000/)
//   API_ORIGIN      Envoy's origin (default: the page's host on port 8080)
//   SCREENSHOT      write a PNG of the page here on success
//   CHROMIUM_PATH   browser binary (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  how long to wait for the page to settle (default 30000)
//   E2E_REQUIRE_STATS=0  do not require the ML engine stats (for runs without the dev token)
//
// Exits 0 on success, 1 with a message on any failure; the browser is closed in every case.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const PAGE_URL = process.env.PAGE_URL || "http://127.0.0.1:8000/";
const SCREENSHOT = process.env.SCREENSHOT || "";
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS || 30000);
const REQUIRE_STATS = process.env.E2E_REQUIRE_STATS !== "0";
const FAILURE_SCREENSHOT = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "test-results",
  "grpc-web-failure.png",
);
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Fails the test with just this message. */
function check(condition, message) {
  if (!condition) throw new Error(message);
}

const pageOrigin = new URL(PAGE_URL).origin;
const apiOrigin = process.env.API_ORIGIN
  ? new URL(process.env.API_ORIGIN).origin
  : `${new URL(PAGE_URL).protocol}//${new URL(PAGE_URL).hostname}:8080`;

/** grpc-status from a gRPC-Web body: the trailer frame has flag 0x80 and "key: value" lines. */
function trailersFromBody(body) {
  const trailers = {};
  let i = 0;
  while (i + 5 <= body.length) {
    const flags = body[i];
    const len = body.readUInt32BE(i + 1);
    const data = body.subarray(i + 5, i + 5 + len);
    i += 5 + len;
    if (flags & 0x80) {
      for (const line of data.toString("utf8").split("\r\n")) {
        const at = line.indexOf(":");
        if (at > 0) trailers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
    }
  }
  return trailers;
}

async function describeCall(request) {
  const response = await request.response();
  const reqHeaders = await request.allHeaders();
  const resHeaders = response ? await response.allHeaders() : {};
  let trailers = {};
  if (response && !("grpc-status" in resHeaders)) {
    try {
      trailers = trailersFromBody(await response.body());
    } catch {
      // Body not available (for example a failed request): leave the trailers empty.
    }
  }
  return {
    url: request.url(),
    method: request.method(),
    failure: request.failure()?.errorText ?? null,
    httpStatus: response?.status() ?? null,
    contentType: reqHeaders["content-type"] ?? "",
    allowOrigin: resHeaders["access-control-allow-origin"] ?? null,
    grpcStatus: resHeaders["grpc-status"] ?? trailers["grpc-status"] ?? null,
    grpcMessage: resHeaders["grpc-message"] ?? trailers["grpc-message"] ?? null,
  };
}

async function text(page, testId) {
  const el = page.getByTestId(testId);
  return (await el.count()) ? ((await el.first().textContent()) ?? "").trim() : null;
}

async function main() {
  const userDataDir = await mkdtemp(path.join(tmpdir(), "grpc-web-e2e-"));
  let context;
  const pending = [];
  const consoleErrors = [];
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 700 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("requestfinished", (req) => pending.push(describeCall(req)));
    page.on("requestfailed", (req) => pending.push(describeCall(req)));
    page.on("console", (msg) => {
      if (msg.type() === "error") consoleErrors.push(msg.text());
    });
    page.on("pageerror", (err) => consoleErrors.push(String(err)));

    const calls = async () =>
      (await Promise.allSettled(pending)).flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const grpcWebCalls = async () =>
      (await calls()).filter(
        (c) => new URL(c.url).origin === apiOrigin && c.contentType.startsWith("application/grpc-web"),
      );

    try {
      const nav = await page.goto(PAGE_URL, { waitUntil: "domcontentloaded", timeout: TIMEOUT_MS });
      check(nav && nav.ok(), `page ${PAGE_URL} did not load: HTTP ${nav?.status() ?? "no response"}`);

      await page
        .waitForFunction(
          (requireStats) => {
            const q = (id) => document.querySelector(`[data-testid="${id}"]`);
            const healthDone = q("health-status") || q("health-error");
            const statsDone = !requireStats || q("stats-requests") || q("stats-error");
            return Boolean(healthDone && statsDone);
          },
          REQUIRE_STATS,
          { timeout: TIMEOUT_MS },
        )
        .catch(() => {
          throw new Error(`the page did not show health${REQUIRE_STATS ? " and stats" : ""} within ${TIMEOUT_MS} ms`);
        });

      const healthStatus = await text(page, "health-status");
      const healthError = await text(page, "health-error");
      check(
        healthStatus === "ok",
        `health-status is ${JSON.stringify(healthStatus)}${healthError ? `; health-error: ${healthError}` : ""}`,
      );
      const rows = await page.getByTestId("dependency-row").count();
      check(rows > 0, "no dependency-row in the health table");

      if (REQUIRE_STATS) {
        const statsError = await text(page, "stats-error");
        check(!statsError, `stats-error: ${statsError}`);
        const requests = await text(page, "stats-requests");
        check(/^\d+$/.test(requests ?? ""), `stats-requests is ${JSON.stringify(requests)}`);
      }

      const grpc = await grpcWebCalls();
      check(
        grpc.length > 0,
        `no request with content-type application/grpc-web* went to ${apiOrigin}; saw:\n` +
          (await calls()).map((c) => `  ${c.method} ${c.url} [${c.contentType}]`).join("\n"),
      );
      const mustSucceed = ["/trading.status.v1.StatusService/GetHealth"];
      if (REQUIRE_STATS) mustSucceed.push("/trading.ml.v1.EngineService/GetStats");
      for (const method of mustSucceed) {
        // The UI can show the answer a moment before Playwright reports the finished request.
        let call;
        for (let tries = 0; tries < 30 && !call; tries++) {
          call = (await grpcWebCalls()).find((c) => new URL(c.url).pathname === method);
          if (!call) await new Promise((r) => setTimeout(r, 100));
        }
        check(call, `no gRPC-Web call to ${method}`);
        check(
          call.allowOrigin === pageOrigin,
          `${method}: access-control-allow-origin is ${JSON.stringify(call.allowOrigin)}, ` +
            `expected ${pageOrigin}`,
        );
        check(
          call.grpcStatus === "0",
          `${method}: grpc-status ${JSON.stringify(call.grpcStatus)} (${call.grpcMessage ?? "no message"})`,
        );
      }
      for (const c of await grpcWebCalls()) {
        console.log(
          `ok  ${c.method} ${c.url} ${c.contentType} http=${c.httpStatus} ` +
            `grpc-status=${c.grpcStatus} acao=${c.allowOrigin}`,
        );
      }
      if (pageOrigin === apiOrigin) {
        console.warn(`note: page and API share origin ${pageOrigin}; CORS was not exercised`);
      }
      const stats = REQUIRE_STATS ? ` stats-requests=${await text(page, "stats-requests")}` : "";
      console.log(`health-status=${healthStatus} dependencies=${rows}${stats}`);

      if (SCREENSHOT) {
        await mkdir(path.dirname(path.resolve(SCREENSHOT)), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        console.log(`screenshot: ${SCREENSHOT}`);
      }
      console.log("PASS grpc-web e2e");
    } catch (err) {
      const grpc = await grpcWebCalls().catch(() => []);
      const lines = [
        `FAIL grpc-web e2e: ${err instanceof Error ? err.message : String(err)}`,
        `  page: ${PAGE_URL} (origin ${pageOrigin}), api origin: ${apiOrigin}`,
        `  health-error: ${(await text(page, "health-error").catch(() => null)) ?? "-"}`,
        `  stats-error: ${(await text(page, "stats-error").catch(() => null)) ?? "-"}`,
        ...grpc.map(
          (c) =>
            `  call ${c.url} http=${c.httpStatus} grpc-status=${c.grpcStatus} acao=${c.allowOrigin}${c.failure ? ` failure=${c.failure}` : ""}`,
        ),
        ...consoleErrors.slice(0, 10).map((e) => `  console: ${e}`),
      ];
      try {
        await mkdir(path.dirname(FAILURE_SCREENSHOT), { recursive: true });
        await page.screenshot({ path: FAILURE_SCREENSHOT, fullPage: true });
        lines.push(`  failure screenshot: ${FAILURE_SCREENSHOT}`);
      } catch {
        // The page may be gone; the message above is what matters.
      }
      console.error(lines.join("\n"));
      process.exitCode = 1;
    }
  } catch (err) {
    console.error(`FAIL grpc-web e2e: could not start ${CHROMIUM_PATH}: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    await context?.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
}

// A last guard so that a hung browser can never hang the caller.
setTimeout(() => {
  console.error(`FAIL grpc-web e2e: gave up after ${3 * TIMEOUT_MS} ms`);
  process.exit(1);
}, 3 * TIMEOUT_MS).unref();

await main();
