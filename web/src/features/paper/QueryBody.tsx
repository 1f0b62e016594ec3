import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { QueryStatus } from "../market/QueryStatus";

/**
 * A card's content from one query: its failure (or loading, or retrying) first, then the empty
 * text only when the query did answer with nothing, else the content. A failed read never passes
 * for "No orders yet.".
 */
export function QueryBody({
  query,
  testId,
  empty,
  isEmpty,
  children,
}: {
  query: UseQueryResult<unknown>;
  testId?: string;
  empty: ReactNode;
  isEmpty: boolean;
  children: ReactNode;
}) {
  const status = <QueryStatus query={query} testId={testId} />;
  if (query.data === undefined) return status;
  return (
    <>
      {status}
      {isEmpty ? <p className="muted">{empty}</p> : children}
    </>
  );
}
