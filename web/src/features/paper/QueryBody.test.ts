import type { UseQueryResult } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { QueryBody } from "./QueryBody";

const query = (q: Record<string, unknown>) =>
  ({ isError: false, isPending: false, fetchStatus: "idle", failureCount: 0, data: undefined, error: null, ...q }) as unknown as UseQueryResult<unknown>;

const render = (q: UseQueryResult<unknown>, isEmpty: boolean) =>
  renderToStaticMarkup(createElement(QueryBody, { query: q, testId: "orders-error", isEmpty, empty: "No orders yet.", children: "TABLE" }));

describe("QueryBody (a paper-trading card)", () => {
  it("a failed read shows its error, not the empty text", () => {
    const html = render(query({ isError: true, isPending: true, error: new Error("boom"), failureCount: 3 }), true);
    expect(html).toContain('data-testid="orders-error"');
    expect(html).toContain('role="alert"');
    expect(html).not.toContain("No orders yet.");
  });
  it("a failed refresh keeps the last rows under the error", () => {
    const html = render(query({ isError: true, error: new Error("boom"), data: { orders: [1] } }), false);
    expect(html).toContain('data-testid="orders-error"');
    expect(html).toContain("TABLE");
  });
  it("an answer with nothing says so; with rows shows them", () => {
    expect(render(query({ data: { orders: [] } }), true)).toBe('<p class="muted">No orders yet.</p>');
    expect(render(query({ data: { orders: [1] } }), false)).toBe("TABLE");
  });
});
