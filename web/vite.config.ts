/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { contentSecurityPolicy } from "./csp.mjs";
import { cssDataUrlsToFiles } from "./scripts/vite-css-data-urls.mjs";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const genTs = here("../gen/ts");
const protobuf = here("./node_modules/@bufbuild/protobuf/dist/esm");

// The generated messages live outside web/ (../gen/ts) and import "@bufbuild/protobuf";
// Node resolution from there would never reach web/node_modules, so point the runtime (and
// its subpaths such as /codegenv2 and /wkt) at the one copy installed here. tsconfig.json
// "paths" mirrors these aliases for the type checker.
export default defineConfig({
  // cssDataUrlsToFiles: no data: images under `img-src 'self'` (Swagger UI's icons).
  plugins: [react(), cssDataUrlsToFiles()],
  resolve: {
    alias: [
      { find: /^@gen\/(.*)$/, replacement: `${genTs}/$1` },
      { find: /^@bufbuild\/protobuf$/, replacement: `${protobuf}/index.js` },
      { find: /^@bufbuild\/protobuf\/([a-z0-9]+)$/, replacement: `${protobuf}/$1/index.js` },
    ],
  },
  server: {
    port: 5173,
    strictPort: true,
    fs: { allow: [here("."), genTs] },
  },
  // `vite preview` serves the built app under the production policy (the dev server cannot:
  // React's fast refresh injects an inline script).
  preview: {
    port: 4173,
    strictPort: true,
    headers: {
      "Content-Security-Policy": contentSecurityPolicy(
        process.env.VITE_API_BASE_URL ? [process.env.VITE_API_BASE_URL] : ["http://127.0.0.1:8080", "http://localhost:8080"],
      ),
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    manifest: true,
    // No preload map of every route's chunks in the entry: it grows with each route, and the sign-in
    // page has a 150 kB budget (scripts/bundle-report.mjs); a route's imports load when it opens.
    modulePreload: false,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
