import { Code, ConnectError } from "@connectrpc/connect";

/** The base URL of Envoy: VITE_API_BASE_URL when set, else this page's host on port 8080. */
export function resolveApiBaseUrl(
  configured: string | undefined,
  location: { protocol: string; hostname: string },
): string {
  const value = configured?.trim();
  if (value) return value.replace(/\/+$/, "");
  return `${location.protocol}//${location.hostname}:8080`;
}

/** A Connect code as its wire name, for example Code.Unavailable -> "unavailable". */
export function codeName(code: Code): string {
  const name = Code[code] ?? "unknown";
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

/**
 * Any thrown value as "code: message", the form the page shows. A fetch that never got an
 * answer (connection refused, blocked by CORS) surfaces as a TypeError: report it as gRPC does,
 * "unavailable", naming the server that could not be reached.
 */
export function describeError(err: unknown, target?: string): string {
  const ce = ConnectError.from(err);
  if (ce.code === Code.Unknown && ce.cause instanceof TypeError) {
    const where = target ? `cannot reach ${target}: ` : "";
    return `${codeName(Code.Unavailable)}: ${where}${ce.rawMessage || "network error"}`;
  }
  return `${codeName(ce.code)}: ${ce.rawMessage || "no message"}`;
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
