import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "@gen/google/rpc/error_details_pb";
import { humanizeField, planNeeded, retryDelayMs, toApiError, violationText } from "./errors";

/** A ConnectError as the gRPC-Web transport makes it from grpc-status-details-bin. */
function wireError(code: Code, message: string, details: { type: string; value: Uint8Array }[]) {
  const err = new ConnectError(message, code);
  // What the transport leaves for details it has no schema for: type name and bytes.
  err.details.push(...details);
  return err;
}

function badRequest(...violations: [field: string, description: string][]) {
  const msg = create(BadRequestSchema, {
    fieldViolations: violations.map(([field, description]) => ({ field, description })),
  });
  return { type: "google.rpc.BadRequest", value: toBinary(BadRequestSchema, msg) };
}

function retryInfo(seconds: number, nanos = 0) {
  const msg = create(RetryInfoSchema, { retryDelay: { seconds: BigInt(seconds), nanos } });
  return { type: "google.rpc.RetryInfo", value: toBinary(RetryInfoSchema, msg) };
}

const REGISTER_FIELDS = {
  email: ["email", "Email"],
  password: ["password", "Password"],
  display_name: ["displayName", "Display name"],
} as const;

describe("toApiError: field violations", () => {
  it("puts each violation next to its field, worded with the field's label", () => {
    const err = wireError(Code.InvalidArgument, "password: must be at least 12 characters", [
      badRequest(["password", "must be at least 12 characters"], ["display_name", "must not contain control characters"]),
    ]);
    const api = toApiError(err, { fields: REGISTER_FIELDS });
    expect(api.kind).toBe("invalid");
    expect(api.fieldErrors).toEqual({
      password: "Password must be at least 12 characters",
      displayName: "Display name must not contain control characters",
    });
    expect(api.message).toBe("Please correct the fields marked below.");
  });

  it("says what it cannot place in the form-level message", () => {
    const err = wireError(Code.InvalidArgument, "x", [badRequest(["new_password", "is a commonly used password; choose another"])]);
    const api = toApiError(err, { fields: REGISTER_FIELDS });
    expect(api.fieldErrors).toEqual({});
    expect(api.message).toBe("New password is a commonly used password; choose another");
  });

  it("falls back to the status message without details", () => {
    const api = toApiError(new ConnectError("timeframe: EURUSD is stored at 1h", Code.InvalidArgument));
    expect(api.message).toBe("timeframe: EURUSD is stored at 1h");
  });

  it("reads details attached as messages too", () => {
    const err = new ConnectError("bad", Code.InvalidArgument, undefined, [
      { desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: [{ field: "email", description: "is required" }] }) },
    ]);
    expect(toApiError(err, { fields: REGISTER_FIELDS }).fieldErrors).toEqual({ email: "Email is required" });
  });
});

describe("toApiError: lock-out", () => {
  it("turns RetryInfo into the wait", () => {
    const err = wireError(Code.ResourceExhausted, "too many attempts", [retryInfo(239, 500_000_000)]);
    const api = toApiError(err);
    expect(api.kind).toBe("rate-limited");
    expect(api.retryAfterMs).toBe(239_500);
    expect(api.message).toBe("Too many attempts. Try again in 4 min.");
    expect(retryDelayMs(ConnectError.from(err))).toBe(239_500);
  });
  it("without RetryInfo says later", () => {
    const api = toApiError(new ConnectError("rate limited", Code.ResourceExhausted));
    expect(api.retryAfterMs).toBeUndefined();
    expect(api.message).toBe("Too many attempts. Try again later.");
  });
});

describe("toApiError: other codes", () => {
  it.each([
    [Code.Unavailable, "unavailable", "The service is unavailable right now. Please try again later."],
    [Code.PermissionDenied, "forbidden", "You are not allowed to do this."],
    [Code.DeadlineExceeded, "timeout", "The server took too long to answer. Please try again."],
    [Code.Internal, "internal", "Something went wrong on our side. Please try again."],
  ])("code %i is %s", (code, kind, message) => {
    const api = toApiError(new ConnectError("details for logs", code));
    expect(api.kind).toBe(kind);
    expect(api.message).toBe(message);
  });
  it("shows the server's words for UNAUTHENTICATED, as a sentence", () => {
    expect(toApiError(new ConnectError("invalid email or password", Code.Unauthenticated)).message).toBe(
      "Invalid email or password.",
    );
    expect(
      toApiError(new ConnectError("x", Code.Unauthenticated), { unauthenticated: "The link has expired." }).message,
    ).toBe("The link has expired.");
  });
  it("reports a fetch that got no answer as a network problem", () => {
    const api = toApiError(new ConnectError("Failed to fetch", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch")));
    expect(api.kind).toBe("network");
  });
});

describe("wording", () => {
  it("joins label and description", () => {
    expect(violationText("Email", "is required")).toBe("Email is required");
    expect(violationText("Email", "Use your work address")).toBe("Use your work address");
  });
  it("humanizes API field names", () => {
    expect(humanizeField("new_password")).toBe("New password");
    expect(humanizeField("info.tickSize")).toBe("Tick size");
  });
});

describe("planNeeded", () => {
  const info = (metadata: Record<string, string>) => ({
    type: "google.rpc.ErrorInfo",
    value: toBinary(ErrorInfoSchema, create(ErrorInfoSchema, { reason: "PLAN_REQUIRED", domain: "trading", metadata })),
  });

  it("reads the plan and the field from ErrorInfo PLAN_REQUIRED", () => {
    const err = wireError(Code.PermissionDenied, 'requires plan pro for horizon "swing"', [info({ plan: "pro", field: "horizon" })]);
    expect(planNeeded(err)).toEqual({ plan: "pro", field: "horizon" });
  });

  it("falls back to the message, and ignores other refusals", () => {
    expect(planNeeded(new ConnectError("requires plan pro (this token's plan: free)", Code.PermissionDenied))).toEqual({
      plan: "pro",
      field: "",
    });
    expect(planNeeded(new ConnectError("requires role admin", Code.PermissionDenied))).toBeNull();
    expect(planNeeded(new ConnectError("requires plan pro", Code.InvalidArgument))).toBeNull();
  });
});
