import { type ReactNode, useEffect } from "react";

export const APP_NAME = "Trading platform";

/** Sets the document title for this page. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · ${APP_NAME}` : APP_NAME;
  }, [title]);
}

/** A page's heading (the target of focus after navigation) with an optional lead paragraph. */
export function PageHeader({ title, lead, actions }: { title: string; lead?: ReactNode; actions?: ReactNode }) {
  usePageTitle(title);
  return (
    <div className="page-header">
      <div>
        <h1 tabIndex={-1}>{title}</h1>
        {lead && <p className="lead">{lead}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  );
}

/** A narrow centred column for the sign-in family of pages. */
export function AuthCard({ title, lead, children }: { title: string; lead?: ReactNode; children: ReactNode }) {
  return (
    <div className="auth-page">
      <section className="card auth-card">
        <PageHeader title={title} lead={lead} />
        {children}
      </section>
    </div>
  );
}

export function Card({ title, children, id, actions }: { title?: string; children: ReactNode; id?: string; actions?: ReactNode }) {
  return (
    <section className="card" aria-labelledby={title && id ? `${id}-title` : undefined} data-testid={id}>
      {title && (
        <div className="card-header">
          <h2 id={id ? `${id}-title` : undefined}>{title}</h2>
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

/** One term and its value in a `<dl className="facts">`. */
export function Fact({ label, children, testId, className }: { label: ReactNode; children: ReactNode; testId?: string; className?: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd className={className} data-testid={testId}>
        {children}
      </dd>
    </div>
  );
}
