/** The base URL of Envoy: VITE_API_BASE_URL when set, else this page's host on port 8080. */
export function resolveApiBaseUrl(
  configured: string | undefined,
  location: { protocol: string; hostname: string },
): string {
  const value = configured?.trim();
  if (value) return value.replace(/\/+$/, "");
  return `${location.protocol}//${location.hostname}:8080`;
}

/** Seconds as a short duration, for example 3725.4 -> "1h 2m 5s". */
export function formatDuration(totalSeconds: number): string {
  if (!Number.isFinite(totalSeconds) || totalSeconds < 0) return "–";
  let s = Math.floor(totalSeconds);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (d || h) parts.push(`${h}h`);
  if (d || h || m) parts.push(`${m}m`);
  parts.push(`${s}s`);
  return parts.join(" ");
}

/** Milliseconds with a precision that suits a table cell. */
export function formatLatency(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
}

/**
 * A wait as people say it, for "try again in …": "a few seconds", "45 s", "4 min", "1 h 5 min".
 * Rounded up, so the page never invites a retry that the server would still refuse.
 */
export function formatWait(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "a moment";
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 5) return "a few seconds";
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** "Too many attempts. Try again in 4 min." from the RetryInfo delay (ms), or without one. */
export function tryAgainMessage(retryAfterMs: number | undefined, lead = "Too many attempts."): string {
  return retryAfterMs === undefined
    ? `${lead} Try again later.`
    : `${lead} Try again in ${formatWait(retryAfterMs)}.`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A Date (or nothing) as local date and time; "–" for none. */
export function formatDateTime(value: Date | undefined | null): string {
  if (!value || Number.isNaN(value.getTime())) return "–";
  return dateTime.format(value);
}

/** A user agent shortened to what a person recognises: "Chrome on Linux". */
export function describeUserAgent(ua: string): string {
  if (!ua) return "Unknown device";
  const browser =
    /Edg\//.test(ua) ? "Edge"
    : /OPR\//.test(ua) ? "Opera"
    : /(Chrome|Chromium)\//.test(ua) ? "Chrome"
    : /Firefox\//.test(ua) ? "Firefox"
    : /Safari\//.test(ua) ? "Safari"
    : /curl\//.test(ua) ? "curl"
    : /python/i.test(ua) ? "Python client"
    : "";
  const os =
    /Android/.test(ua) ? "Android"
    : /(iPhone|iPad|iOS)/.test(ua) ? "iOS"
    : /Windows/.test(ua) ? "Windows"
    : /Mac OS X|Macintosh/.test(ua) ? "macOS"
    : /Linux/.test(ua) ? "Linux"
    : "";
  if (browser && os) return `${browser} on ${os}`;
  return browser || os || ua.slice(0, 60);
}
