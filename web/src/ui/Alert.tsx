import type { ReactNode } from "react";

/** A message in a page or form. "error" is announced at once (role=alert), the rest politely. */
export function Alert({ tone = "error", children, testId }: { tone?: "error" | "info" | "success" | "warning"; children: ReactNode; testId?: string }) {
  return (
    <div className={`alert alert-${tone}`} role={tone === "error" ? "alert" : "status"} data-testid={testId}>
      {children}
    </div>
  );
}

/** A strip across the top of the app for a condition that affects several pages. */
export function Banner({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <div className="banner" role="status" data-testid={testId}>
      <div className="banner-inner">{children}</div>
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="muted loading" role="status">
      {label}
    </p>
  );
}
