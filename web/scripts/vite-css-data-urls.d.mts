import type { Plugin } from "vite";
export function decodeDataUrl(raw: string): { ext: string; bytes: Buffer } | null;
export function cssDataUrlsToFiles(options?: { include?: RegExp }): Plugin;
