import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "@gen/google/rpc/error_details_pb";
import { tryAgainMessage } from "../lib/format";

/** What the page does about an error; finer than the code where people see a difference. */
export type ErrorKind =
  | "invalid" // INVALID_ARGUMENT: field violations next to their fields
  | "unauthenticated" // wrong credentials, or the session is gone
  | "forbidden"
  | "not-found"
  | "conflict" // ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED
  | "rate-limited" // RESOURCE_EXHAUSTED, with the wait when RetryInfo says it
  | "unavailable" // UNAVAILABLE (a service is down)
  | "network" // no answer at all (connection refused, CORS, offline)
  | "timeout"
  | "internal";

export interface ApiError {
  kind: ErrorKind;
  code: Code;
  /** For people: the form-level message (what is not shown next to a field). */
  message: string;
  /** Field violations keyed by the form's field names. */
  fieldErrors: Record<string, string>;
  /** From google.rpc.RetryInfo, when the server says how long to wait. */
  retryAfterMs?: number;
  cause: ConnectError;
}

export interface ErrorOptions {
  /**
   * The form's fields: API name (snake_case, as in the proto) -> [form field name, label].
   * Violations of other fields end up in `message`.
   */
  fields?: Record<string, readonly [name: string, label: string]>;
  /** What to say for UNAUTHENTICATED instead of the server's message. */
  unauthenticated?: string;
}

/** "is required" -> "Email is required"; a description that starts in capitals stays as it is. */
export function violationText(label: string, description: string): string {
  const d = description.trim();
  if (!d) return `${label} is not valid`;
  return /^[a-z]/.test(d) ? `${label} ${d}` : d;
}

/** "new_password" -> "New password" (for violations of fields the form does not show). */
export function humanizeField(field: string): string {
  const last = field.split(".").pop() ?? field;
  const words = last.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase().trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function kindOf(err: ConnectError): ErrorKind {
  switch (err.code) {
    case Code.InvalidArgument:
    case Code.OutOfRange:
      return "invalid";
    case Code.Unauthenticated:
      return "unauthenticated";
    case Code.PermissionDenied:
      return "forbidden";
    case Code.NotFound:
      return "not-found";
    case Code.AlreadyExists:
    case Code.FailedPrecondition:
    case Code.Aborted:
      return "conflict";
    case Code.ResourceExhausted:
      return "rate-limited";
    case Code.Unavailable:
      return "unavailable";
    case Code.DeadlineExceeded:
      return "timeout";
    case Code.Unknown:
      // fetch() itself failed: nothing came back (refused, blocked by CORS, offline).
      return err.cause instanceof TypeError ? "network" : "internal";
    default:
      return "internal";
  }
}

/** The delay of google.rpc.RetryInfo in the error's details, in ms. */
export function retryDelayMs(err: ConnectError): number | undefined {
  const info = err.findDetails(RetryInfoSchema)[0];
  const delay = info?.retryDelay;
  if (!delay) return undefined;
  return Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6);
}

/** What a refusal for want of a plan names: the plan that opens it, and the request field when a value was refused. */
export interface PlanNeeded {
  plan: string;
  field: string;
}

/**
 * The plan a PERMISSION_DENIED needs, from its google.rpc.ErrorInfo (reason PLAN_REQUIRED: the
 * services' refusals and the edge's) or, when no details came (a REST envelope read as text), its
 * message ("requires plan pro ..."); null for any other error.
 */
export function planNeeded(thrown: unknown): PlanNeeded | null {
  const err = ConnectError.from(thrown);
  if (err.code !== Code.PermissionDenied) return null;
  const info = err.findDetails(ErrorInfoSchema).find((d) => d.reason === "PLAN_REQUIRED");
  if (info) return { plan: info.metadata.plan ?? "", field: info.metadata.field ?? "" };
  const said = /requires plan (\w+)(?:.*? for (\w+))?/.exec(err.rawMessage);
  return said ? { plan: said[1], field: said[2] ?? "" } : null;
}

/** Turns anything a call threw into what a page shows: field errors, a message, the wait. */
export function toApiError(thrown: unknown, options: ErrorOptions = {}): ApiError {
  const err = ConnectError.from(thrown);
  const kind = kindOf(err);
  const fieldErrors: Record<string, string> = {};
  const unplaced: string[] = [];
  for (const detail of err.findDetails(BadRequestSchema)) {
    for (const v of detail.fieldViolations) {
      const known = options.fields?.[v.field];
      if (known && !(known[0] in fieldErrors)) {
        fieldErrors[known[0]] = violationText(known[1], v.description);
      } else if (!known) {
        unplaced.push(violationText(humanizeField(v.field), v.description));
      }
    }
  }
  const retryAfterMs = kind === "rate-limited" ? retryDelayMs(err) : undefined;
  let message: string;
  if (kind === "invalid") {
    message = unplaced.length
      ? unplaced.join(". ")
      : Object.keys(fieldErrors).length
        ? "Please correct the fields marked below."
        : err.rawMessage || "The request was not valid.";
  } else {
    message = messageFor(kind, err, retryAfterMs, options);
  }
  return { kind, code: err.code, message, fieldErrors, retryAfterMs, cause: err };
}

function messageFor(
  kind: ErrorKind,
  err: ConnectError,
  retryAfterMs: number | undefined,
  options: ErrorOptions,
): string {
  switch (kind) {
    case "unauthenticated":
      return options.unauthenticated ?? (err.rawMessage ? sentence(err.rawMessage) : "Please sign in again.");
    case "forbidden":
      return "You are not allowed to do this.";
    case "rate-limited":
      return tryAgainMessage(retryAfterMs);
    case "unavailable":
      return "The service is unavailable right now. Please try again later.";
    case "network":
      return "Cannot reach the server. Check your connection and try again.";
    case "timeout":
      return "The server took too long to answer. Please try again.";
    case "internal":
      return "Something went wrong on our side. Please try again.";
    default:
      return err.rawMessage ? sentence(err.rawMessage) : "The request failed.";
  }
}

/** "invalid email or password" -> "Invalid email or password." */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

export function isUnauthenticated(thrown: unknown): boolean {
  return ConnectError.from(thrown).code === Code.Unauthenticated;
}
