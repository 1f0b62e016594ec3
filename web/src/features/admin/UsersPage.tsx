import { Role, type User, UserStatus } from "@gen/trading/identity/v1/identity_pb";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { adminClient } from "../../api/adminClient";
import { toApiError } from "../../api/errors";
import { formatDateTime } from "../../lib/format";
import { timestampDate } from "../../lib/time";
import { useSession } from "../../session/instance";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { SelectField, TextField } from "../../ui/Field";
import { PageHeader } from "../../ui/page";
import { toast } from "../../ui/toast";

const PAGE_SIZE = 25;

interface Filters {
  query: string;
  role: Role;
  status: UserStatus;
}

const ROLE_OPTIONS = [
  { value: String(Role.UNSPECIFIED), label: "Any role" },
  { value: String(Role.USER), label: "User" },
  { value: String(Role.ADMIN), label: "Admin" },
];
const STATUS_OPTIONS = [
  { value: String(UserStatus.UNSPECIFIED), label: "Any status" },
  { value: String(UserStatus.ACTIVE), label: "Active" },
  { value: String(UserStatus.SUSPENDED), label: "Suspended" },
];

export const roleName = (r: Role) => (r === Role.ADMIN ? "admin" : r === Role.USER ? "user" : "–");
export const statusName = (s: UserStatus) =>
  s === UserStatus.SUSPENDED ? "suspended" : s === UserStatus.ACTIVE ? "active" : "–";

type Action = { kind: "role"; user: User } | { kind: "suspend"; user: User };

function RoleDialog({ user, onClose }: { user: User; onClose: () => void }) {
  const client = useQueryClient();
  const [role, setRole] = useState(String(user.role === Role.ADMIN ? Role.USER : Role.ADMIN));
  const change = useMutation({
    mutationFn: () => adminClient.setUserRole({ userId: user.id, role: Number(role) as Role }),
    onSuccess: (res) => {
      toast(`${res.user?.email ?? user.email} is now ${roleName(res.user?.role ?? Number(role))}.`);
      void client.invalidateQueries({ queryKey: ["admin-users"] });
      onClose();
    },
  });
  return (
    <Dialog
      open
      title={`Change the role of ${user.email}`}
      onClose={onClose}
      testId="role-dialog"
      actions={
        <>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button busy={change.isPending} onClick={() => change.mutate()}>
            Change role
          </Button>
        </>
      }
    >
      <SelectField label="New role" name="role" value={role} onChange={setRole} options={ROLE_OPTIONS.slice(1)} />
      <p className="muted">The change applies at once; their open sessions get the new role on their next refresh.</p>
      {change.isError && <Alert>{toApiError(change.error).message}</Alert>}
    </Dialog>
  );
}

function SuspendDialog({ user, onClose }: { user: User; onClose: () => void }) {
  const client = useQueryClient();
  const suspending = user.status !== UserStatus.SUSPENDED;
  const [reason, setReason] = useState("");
  const [reasonError, setReasonError] = useState<string | undefined>();
  const change = useMutation({
    mutationFn: () => adminClient.suspendUser({ userId: user.id, suspended: suspending, reason: reason.trim() }),
    onSuccess: () => {
      toast(suspending ? `${user.email} is suspended.` : `${user.email} is reinstated.`);
      void client.invalidateQueries({ queryKey: ["admin-users"] });
      onClose();
    },
    onError: (err) => setReasonError(toApiError(err, { fields: { reason: ["reason", "Reason"] } }).fieldErrors.reason),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (reason.trim().length > 500) {
      setReasonError("Reason must be at most 500 characters");
      return;
    }
    change.mutate();
  };
  return (
    <Dialog open title={suspending ? `Suspend ${user.email}?` : `Reinstate ${user.email}?`} onClose={onClose} testId="suspend-dialog">
      <form onSubmit={submit} noValidate>
        <p>
          {suspending
            ? "They are signed out everywhere at once and cannot sign in until reinstated."
            : "They can sign in again."}
        </p>
        <TextField markOptional={false} label="Reason" name="reason" value={reason} onChange={setReason} error={reasonError} hint="Kept in the audit log." maxLength={500} />
        {change.isError && !reasonError && <Alert>{toApiError(change.error).message}</Alert>}
        <div className="dialog-actions">
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" variant={suspending ? "danger" : "primary"} busy={change.isPending}>
            {suspending ? "Suspend" : "Reinstate"}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

export function UsersPage() {
  const me = useSession().user;
  const [draft, setDraft] = useState({ query: "", role: String(Role.UNSPECIFIED), status: String(UserStatus.UNSPECIFIED) });
  const [filters, setFilters] = useState<Filters>({ query: "", role: Role.UNSPECIFIED, status: UserStatus.UNSPECIFIED });
  // Tokens of the pages before the current one, to go back.
  const [pages, setPages] = useState<string[]>([""]);
  const pageToken = pages[pages.length - 1] ?? "";
  const [action, setAction] = useState<Action | null>(null);

  const users = useQuery({
    queryKey: ["admin-users", filters, pageToken],
    queryFn: () => adminClient.listUsers({ ...filters, pageSize: PAGE_SIZE, pageToken }),
    placeholderData: keepPreviousData,
  });

  const search = (e: FormEvent) => {
    e.preventDefault();
    setFilters({ query: draft.query.trim(), role: Number(draft.role) as Role, status: Number(draft.status) as UserStatus });
    setPages([""]);
  };

  return (
    <div className="page">
      <PageHeader title="Users" lead="Every account, newest first." />
      <form className="filters" onSubmit={search} role="search" aria-label="Filter users" data-testid="user-filters">
        <TextField markOptional={false} label="Email or name contains" name="query" type="search" value={draft.query} onChange={(q) => setDraft({ ...draft, query: q })} />
        <SelectField label="Role" name="role" value={draft.role} onChange={(r) => setDraft({ ...draft, role: r })} options={ROLE_OPTIONS} />
        <SelectField label="Status" name="status" value={draft.status} onChange={(s) => setDraft({ ...draft, status: s })} options={STATUS_OPTIONS} />
        <div className="filters-submit">
          <Button type="submit">Search</Button>
        </div>
      </form>
      {users.isPending && <Loading />}
      {users.isError && <Alert>{toApiError(users.error).message}</Alert>}
      {users.data && (
        <>
          <div className="table-scroll" role="region" aria-label="Users" tabIndex={0}>
            <table className="table" data-testid="users-table" aria-busy={users.isFetching || undefined}>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">2FA</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last sign-in</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.data.users.length === 0 && (
                  <tr>
                    <td colSpan={8} className="muted">
                      No user matches.
                    </td>
                  </tr>
                )}
                {users.data.users.map((u) => (
                  <tr key={u.id} data-testid="user-row" data-email={u.email}>
                    <th scope="row">
                      {u.email}
                      {!u.emailVerified && <span className="badge badge-warn">unverified</span>}
                    </th>
                    <td>{u.displayName || "–"}</td>
                    <td>{roleName(u.role)}</td>
                    <td>
                      <span className={`badge ${u.status === UserStatus.SUSPENDED ? "badge-bad" : "badge-ok"}`} data-testid="user-status">
                        {statusName(u.status)}
                      </span>
                    </td>
                    <td>{u.totpEnabled ? "on" : "off"}</td>
                    <td className="time">{formatDateTime(timestampDate(u.createdAt))}</td>
                    <td className="time">{formatDateTime(timestampDate(u.lastLoginAt))}</td>
                    <td>
                      <div className="row-actions">
                      <Button variant="secondary" onClick={() => setAction({ kind: "role", user: u })} disabled={u.id === me?.id} aria-label={`Change role of ${u.email}`}>
                        Role…
                      </Button>
                      <Button
                        variant={u.status === UserStatus.SUSPENDED ? "secondary" : "danger"}
                        onClick={() => setAction({ kind: "suspend", user: u })}
                        disabled={u.id === me?.id}
                        aria-label={`${u.status === UserStatus.SUSPENDED ? "Reinstate" : "Suspend"} ${u.email}`}
                        data-testid="suspend-button"
                      >
                        {u.status === UserStatus.SUSPENDED ? "Reinstate" : "Suspend"}
                      </Button>
                      <Link to="/admin/audit" search={{ subject: u.id }} className="btn btn-link" aria-label={`Audit events about ${u.email}`}>
                        Audit
                      </Link>
                    </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages of users">
            <Button variant="secondary" disabled={pages.length <= 1} onClick={() => setPages((p) => p.slice(0, -1))}>
              Previous page
            </Button>
            <span className="muted">Page {pages.length}</span>
            <Button
              variant="secondary"
              disabled={!users.data.nextPageToken}
              onClick={() => setPages((p) => [...p, users.data.nextPageToken])}
            >
              Next page
            </Button>
          </nav>
        </>
      )}
      {action?.kind === "role" && <RoleDialog user={action.user} onClose={() => setAction(null)} />}
      {action?.kind === "suspend" && <SuspendDialog user={action.user} onClose={() => setAction(null)} />}
    </div>
  );
}
