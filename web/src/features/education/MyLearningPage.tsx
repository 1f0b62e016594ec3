import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { certificateClient, learningClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { formatDateTime } from "../../lib/format";
import { timestampDate } from "../../lib/time";
import { Alert, Loading } from "../../ui/Alert";
import { Card, PageHeader } from "../../ui/page";
import "./education.css";

export function MyLearningPage() {
  const enrollments = useQuery({ queryKey: ["enrollments"], queryFn: () => learningClient.listEnrollments({ pageSize: 100 }) });
  const certificates = useQuery({ queryKey: ["certificates"], queryFn: () => certificateClient.listCertificates({}) });
  const error = enrollments.error ?? certificates.error;
  return (
    <div>
      <PageHeader title="My learning" lead={<Link to="/courses">Find a course</Link>} />
      {error && <Alert>{toApiError(error).message}</Alert>}
      <Card title="Courses">
        {enrollments.isPending ? (
          <Loading />
        ) : enrollments.data?.enrollments.length ? (
          <ul className="stack" data-testid="enrollments">
            {enrollments.data.enrollments.map((e) => (
              <li key={e.course?.courseId}>
                <Link to="/courses/$course" params={{ course: e.course?.slug ?? "" }}>
                  {e.course?.title}
                </Link>{" "}
                <progress className="progress-bar" max={100} value={e.progress?.percentComplete ?? 0} aria-label={`${e.course?.title} progress`} />{" "}
                <span className="muted small">{e.progress?.percentComplete ?? 0}%</span>
              </li>
            ))}
          </ul>
        ) : (
          <p>You have not enrolled in a course yet.</p>
        )}
      </Card>
      <Card title="Certificates">
        {certificates.isPending ? (
          <Loading />
        ) : certificates.data?.certificates.length ? (
          <ul className="stack" data-testid="certificates">
            {certificates.data.certificates.map((c) => (
              <li key={c.code}>
                {c.courseTitle} · {c.issuedAt ? formatDateTime(timestampDate(c.issuedAt)) : ""} ·{" "}
                <Link to="/certificates/$code" params={{ code: c.code }}>
                  {c.code}
                </Link>
              </li>
            ))}
          </ul>
        ) : (
          <p>Complete a course to earn a certificate.</p>
        )}
      </Card>
    </div>
  );
}
