import { Code, ConnectError } from "@connectrpc/connect";
import { useQuery } from "@tanstack/react-query";
import { useParams } from "@tanstack/react-router";
import { certificateClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { timestampDate } from "../../lib/time";
import { Alert, Loading } from "../../ui/Alert";
import { Card, PageHeader } from "../../ui/page";
import "./education.css";

/** The public verification of a certificate: name, course and date, nothing else. */
export function CertificatePage() {
  const { code } = useParams({ from: "/certificates/$code" });
  const verified = useQuery({
    queryKey: ["certificate", code],
    retry: false,
    queryFn: async () => {
      try {
        return await certificateClient.verifyCertificate({ code });
      } catch (err) {
        if (err instanceof ConnectError && err.code === Code.NotFound) return null;
        throw err;
      }
    },
  });
  return (
    <div className="narrow">
      <PageHeader title="Certificate verification" />
      {verified.isPending ? (
        <Loading />
      ) : verified.error ? (
        <Alert>{toApiError(verified.error).message}</Alert>
      ) : verified.data ? (
        <Card>
          <div className="certificate" data-testid="certificate-valid">
            <p className="badge badge-ok">Valid certificate</p>
            <p>This certifies that</p>
            <h2 data-testid="certificate-name">{verified.data.learnerName}</h2>
            <p>completed the course</p>
            <h3 data-testid="certificate-course">{verified.data.courseTitle}</h3>
            <p>
              on{" "}
              {timestampDate(verified.data.issuedAt)?.toLocaleDateString(undefined, { dateStyle: "long" }) ?? ""}
            </p>
            <p className="muted small">Verification code {code.toUpperCase()}</p>
          </div>
        </Card>
      ) : (
        <Alert testId="certificate-unknown">No certificate has the code {code}.</Alert>
      )}
    </div>
  );
}
