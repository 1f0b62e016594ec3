// A Vite build plugin: CSS `url(data:...)` images become files of the build.
//
// The app's Content-Security-Policy says `img-src 'self'`: a data: image is refused. Swagger UI's
// stylesheet (the API reference) draws its icons as data: URLs; this plugin writes each one as
// an asset (assets/css-image-<hash>.svg|png|jpg) and points the CSS at it, so the policy stays
// strict. It runs after Vite's own CSS transform and before the CSS is collected, where the
// `__VITE_ASSET__<ref>__` placeholder is resolved to the file's URL.
const URL_RE = /url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^"')\s]+))\s*\)/g;
const EXT = { "image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" };

/** "data:image/svg+xml;charset=utf-8,<svg ...>" -> { ext, bytes }, or null for anything else. */
export function decodeDataUrl(raw) {
  const url = raw.replace(/\\(.)/g, "$1");
  const m = /^data:([^;,]+)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!m) return null;
  const ext = EXT[m[1].toLowerCase()];
  if (!ext) return null;
  if (/;base64/i.test(m[2])) return { ext, bytes: Buffer.from(m[3], "base64") };
  let text = m[3];
  try {
    text = decodeURIComponent(text);
  } catch {
    // a stray "%": keep the text as written
  }
  return { ext, bytes: Buffer.from(text, "utf8") };
}

export function cssDataUrlsToFiles({ include = /\.css($|\?)/ } = {}) {
  return {
    name: "css-data-urls-to-files",
    apply: "build",
    transform(code, id) {
      if (!include.test(id) || !code.includes("data:")) return null;
      let changed = false;
      const out = code.replace(URL_RE, (whole, dq, sq, bare) => {
        const raw = dq ?? sq ?? bare ?? "";
        if (!raw.startsWith("data:")) return whole;
        const decoded = decodeDataUrl(raw);
        if (!decoded) return whole;
        const ref = this.emitFile({ type: "asset", name: `css-image.${decoded.ext}`, source: decoded.bytes });
        changed = true;
        return `url(__VITE_ASSET__${ref}__)`;
      });
      return changed ? { code: out, map: null } : null;
    },
  };
}
