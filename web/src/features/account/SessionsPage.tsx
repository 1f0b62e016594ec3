import type { Session as UserSession } from "@gen/trading/identity/v1/user_service_pb";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { toApiError } from "../../api/errors";
import { userClient } from "../../api/userClient";
import { describeUserAgent, formatDateTime } from "../../lib/format";
import { timestampDate } from "../../lib/time";
import { session } from "../../session/instance";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { Card, usePageTitle } from "../../ui/page";
import { toast } from "../../ui/toast";

const KEY = ["sessions"] as const;

function methodName(method: string): string {
  if (method.startsWith("oauth:")) return `Sign in with ${method.slice(6)}`;
  return { password: "Password", phone: "Text message code", totp: "Password and code" }[method] ?? method;
}

export function SessionsPage() {
  usePageTitle("Sessions");
  const client = useQueryClient();
  const sessions = useQuery({ queryKey: KEY, queryFn: async () => (await userClient.listSessions({})).sessions });
  const [target, setTarget] = useState<UserSession | null>(null);
  const revoke = useMutation({
    mutationFn: (id: string) => userClient.revokeSession({ sessionId: id }),
    onSuccess: () => {
      setTarget(null);
      toast("The session was signed out.");
      void client.invalidateQueries({ queryKey: KEY });
    },
  });

  if (sessions.isPending) return <Loading />;
  if (sessions.isError) return <Alert>{toApiError(sessions.error).message}</Alert>;
  return (
    <Card title="Where you are signed in" id="sessions">
      <div className="table-scroll" role="region" aria-label="Sessions" tabIndex={0}>
        <table className="table" data-testid="sessions-table">
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Address</th>
              <th scope="col">How</th>
              <th scope="col">Started</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sessions.data.map((s) => (
              <tr key={s.id} data-testid="session-row" data-current={s.current || undefined}>
                <th scope="row">
                  {describeUserAgent(s.userAgent)}
                  {s.current && <span className="badge badge-ok"> this device</span>}
                </th>
                <td>{s.ip || "–"}</td>
                <td>{methodName(s.method)}</td>
                <td className="time">{formatDateTime(timestampDate(s.createdAt))}</td>
                <td className="time">{formatDateTime(timestampDate(s.lastUsedAt))}</td>
                <td>
                      <div className="row-actions">
                  {s.current ? (
                    <Button variant="secondary" onClick={() => void session.logout()}>
                      Sign out
                    </Button>
                  ) : (
                    <Button variant="danger" onClick={() => setTarget(s)} aria-label={`Sign out ${describeUserAgent(s.userAgent)}, started ${formatDateTime(timestampDate(s.createdAt))}`}>
                      Sign out
                    </Button>
                  )}
                </div>
                    </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Dialog
        open={target !== null}
        title="Sign out this session?"
        onClose={() => setTarget(null)}
        testId="revoke-dialog"
        actions={
          <>
            <Button variant="secondary" onClick={() => setTarget(null)}>
              Cancel
            </Button>
            <Button variant="danger" busy={revoke.isPending} onClick={() => target && revoke.mutate(target.id)}>
              Sign it out
            </Button>
          </>
        }
      >
        {target && (
          <p>
            {describeUserAgent(target.userAgent)} from {target.ip || "an unknown address"} will have to sign in again.
          </p>
        )}
        {revoke.isError && <Alert>{toApiError(revoke.error).message}</Alert>}
      </Dialog>
    </Card>
  );
}
