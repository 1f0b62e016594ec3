import type { AuditEvent } from "@gen/trading/identity/v1/user_admin_service_pb";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useNavigate, useSearch } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { adminClient } from "../../api/adminClient";
import { toApiError } from "../../api/errors";
import { formatDateTime } from "../../lib/format";
import { timestampDate, timestampFromLocalInput } from "../../lib/time";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { PageHeader } from "../../ui/page";

const PAGE_SIZE = 50;

function Changes({ event }: { event: AuditEvent }) {
  const parts = [
    ["before", event.before],
    ["after", event.after],
    ["detail", event.detail],
  ] as const;
  const present = parts.filter(([, v]) => v && Object.keys(v).length > 0);
  if (present.length === 0 && !event.userAgent && !event.requestId) return <span className="muted">–</span>;
  return (
    <details>
      <summary>Show</summary>
      <dl className="audit-detail">
        {present.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>
              <pre>{JSON.stringify(value, null, 2)}</pre>
            </dd>
          </div>
        ))}
        {event.userAgent && (
          <div>
            <dt>user agent</dt>
            <dd>{event.userAgent}</dd>
          </div>
        )}
        {event.requestId && (
          <div>
            <dt>request id</dt>
            <dd>
              <code>{event.requestId}</code>
            </dd>
          </div>
        )}
      </dl>
    </details>
  );
}

export function AuditPage() {
  const search = useSearch({ from: "/admin/audit" });
  const navigate = useNavigate();
  const [draft, setDraft] = useState({
    action: search.action ?? "",
    actor: search.actor ?? "",
    subject: search.subject ?? "",
    since: "",
    until: "",
  });
  const [range, setRange] = useState({ since: "", until: "" });
  const [pages, setPages] = useState<string[]>([""]);
  const pageToken = pages[pages.length - 1] ?? "";
  const filters = {
    action: search.action ?? "",
    actorId: search.actor ?? "",
    subjectId: search.subject ?? "",
    since: timestampFromLocalInput(range.since),
    until: timestampFromLocalInput(range.until),
  };
  const events = useQuery({
    queryKey: ["admin-audit", search, range, pageToken],
    queryFn: () => adminClient.listAuditEvents({ ...filters, pageSize: PAGE_SIZE, pageToken }),
    placeholderData: keepPreviousData,
  });

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setRange({ since: draft.since, until: draft.until });
    setPages([""]);
    void navigate({
      to: "/admin/audit",
      search: {
        action: draft.action.trim() || undefined,
        actor: draft.actor.trim() || undefined,
        subject: draft.subject.trim() || undefined,
      },
    });
  };

  const error = events.isError ? toApiError(events.error, {}) : null;
  return (
    <div className="page">
      <PageHeader title="Audit log" lead="Every security-relevant action, newest first. Entries cannot be changed." />
      <form className="filters" onSubmit={apply} role="search" aria-label="Filter audit events" data-testid="audit-filters">
        <TextField markOptional={false} label="Action" name="action" value={draft.action} onChange={(v) => setDraft({ ...draft, action: v })} hint='For example auth.login.* ("*" at the end matches a prefix).' />
        <TextField markOptional={false} label="Actor id" name="actor" value={draft.actor} onChange={(v) => setDraft({ ...draft, actor: v })} />
        <TextField markOptional={false} label="Subject id" name="subject" value={draft.subject} onChange={(v) => setDraft({ ...draft, subject: v })} />
        <TextField markOptional={false} label="Since" name="since" type="datetime-local" value={draft.since} onChange={(v) => setDraft({ ...draft, since: v })} />
        <TextField markOptional={false} label="Until" name="until" type="datetime-local" value={draft.until} onChange={(v) => setDraft({ ...draft, until: v })} />
        <div className="filters-submit">
          <Button type="submit">Filter</Button>
        </div>
      </form>
      {events.isPending && <Loading />}
      {error && <Alert>{error.message}</Alert>}
      {events.data && (
        <>
          <div className="table-scroll" role="region" aria-label="Audit events" tabIndex={0}>
            <table className="table" data-testid="audit-table" aria-busy={events.isFetching || undefined}>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Action</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Address</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {events.data.events.length === 0 && (
                  <tr>
                    <td colSpan={7} className="muted">
                      No event matches.
                    </td>
                  </tr>
                )}
                {events.data.events.map((e) => (
                  <tr key={e.id} data-testid="audit-row" data-action={e.action}>
                    <td className="time">{formatDateTime(timestampDate(e.time))}</td>
                    <th scope="row">
                      <code>{e.action}</code>
                    </th>
                    <td>
                      <span className={`badge ${e.outcome === "failed" ? "badge-bad" : "badge-ok"}`}>{e.outcome}</span>
                    </td>
                    <td className="id">{e.actorId || "–"}</td>
                    <td className="id">{e.subjectId || "–"}</td>
                    <td>{e.ip || "–"}</td>
                    <td>
                      <Changes event={e} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages of audit events">
            <Button variant="secondary" disabled={pages.length <= 1} onClick={() => setPages((p) => p.slice(0, -1))}>
              Previous page
            </Button>
            <span className="muted">Page {pages.length}</span>
            <Button variant="secondary" disabled={!events.data.nextPageToken} onClick={() => setPages((p) => [...p, events.data.nextPageToken])}>
              Next page
            </Button>
          </nav>
        </>
      )}
    </div>
  );
}
