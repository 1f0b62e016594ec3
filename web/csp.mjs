// The Content-Security-Policy the web app is built for: no inline script, no eval, no inline
// style attributes, no third-party origin; only Envoy (the API) besides the app's own origin.
// The gateway should send it with the app; `vite preview` sends it, and the browser tests put it
// on every page they load.

/** @param {string[]} apiOrigins origins the app calls (Envoy), e.g. ["http://127.0.0.1:8080"] */
export function contentSecurityPolicy(apiOrigins) {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    `connect-src 'self' ${apiOrigins.join(" ")}`.trim(),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}
