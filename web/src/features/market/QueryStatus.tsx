import type { UseQueryResult } from "@tanstack/react-query";
import { toApiError } from "../../api/errors";
import { Alert, Loading } from "../../ui/Alert";

/**
 * What a read of the ML engine is doing: loading, failing and retrying (with the reason), or
 * failed. Nothing once it has data.
 */
export function QueryStatus({ query, testId, loading = "Loading…" }: { query: UseQueryResult<unknown>; testId?: string; loading?: string }) {
  if (query.isError) return <Alert testId={testId}>{toApiError(query.error).message}</Alert>;
  if (query.isPending && query.fetchStatus === "fetching" && query.failureCount > 0) {
    return (
      <Alert tone="warning" testId={testId}>
        {toApiError(query.failureReason).message} Retrying…
      </Alert>
    );
  }
  if (query.isPending && query.fetchStatus === "fetching") return <Loading label={loading} />;
  return null;
}
