#!/usr/bin/env node
// JavaScript each route loads (gzip), from Vite's build manifest: the entry with its static
// imports, plus the route's page chunk with its static imports. Run after `npm run build`.
//
//   node scripts/bundle-report.mjs [--max-sign-in-kb 150]
// Exits 1 when the sign-in route is over the budget.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");
const manifest = JSON.parse(readFileSync(path.join(dist, ".vite", "manifest.json"), "utf8"));
const budgetArg = process.argv.indexOf("--max-sign-in-kb");
const budgetKb = budgetArg > 0 ? Number(process.argv[budgetArg + 1]) : 150;

const gz = new Map();
function gzipBytes(file) {
  if (!gz.has(file)) gz.set(file, gzipSync(readFileSync(path.join(dist, file)), { level: 9 }).length);
  return gz.get(file);
}

/** Every JS file `key` loads before it runs: itself and its static imports, recursively. */
function closure(key, seen = new Set()) {
  const chunk = manifest[key];
  if (!chunk || seen.has(chunk.file)) return seen;
  seen.add(chunk.file);
  for (const dep of chunk.imports ?? []) closure(dep, seen);
  return seen;
}

const entryKey = Object.keys(manifest).find((k) => manifest[k].isEntry);
const entryFiles = closure(entryKey);
const sum = (files) => [...files].reduce((n, f) => n + gzipBytes(f), 0);
const kb = (n) => (n / 1024).toFixed(1);

const rows = [];
for (const key of manifest[entryKey].dynamicImports ?? []) {
  const page = manifest[key];
  const files = closure(key, new Set(entryFiles));
  const total = sum(files);
  rows.push({ page: page.name ?? key, total, own: total - sum(entryFiles) });
}
rows.sort((a, b) => a.page.localeCompare(b.page));

console.log(`entry (shell, router, query cache, transport, session): ${kb(sum(entryFiles))} kB gzip`);
console.log("route page                       total kB   beyond the entry kB");
for (const r of rows) {
  console.log(`${r.page.padEnd(32)} ${kb(r.total).padStart(8)} ${kb(r.own).padStart(20)}`);
}
const signIn = rows.find((r) => r.page === "SignInPage");
if (!signIn) {
  console.error("no SignInPage chunk in the manifest");
  process.exit(1);
}
if (signIn.total / 1024 > budgetKb) {
  console.error(`sign-in loads ${kb(signIn.total)} kB of JavaScript (gzip), over the ${budgetKb} kB budget`);
  process.exit(1);
}
console.log(`sign-in: ${kb(signIn.total)} kB gzip (budget ${budgetKb} kB)`);
