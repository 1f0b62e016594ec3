import { useQuery } from "@tanstack/react-query";
import { authoringClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { formatPercent } from "../../lib/marketFormat";
import { Alert, Loading } from "../../ui/Alert";
import { Card, PageHeader, usePageTitle } from "../../ui/page";
import { statusLabel } from "../education/labels";

/** Admin: each course's enrolments, completions, quiz pass rate and forecasting answers (AuthoringService.ListCourseFigures). */
export function EducationFiguresPage() {
  usePageTitle("Education figures");
  const figures = useQuery({ queryKey: ["admin", "education-figures"], queryFn: () => authoringClient.listCourseFigures({ pageSize: 100 }) });
  return (
    <div>
      <PageHeader title="Education" lead="Enrolments, completions and quiz pass rates per course, most enrolments first." />
      {figures.isPending ? (
        <Loading />
      ) : figures.error ? (
        <Alert>{toApiError(figures.error).message}</Alert>
      ) : (
        <Card title="Courses">
          <div className="table-scroll" role="region" aria-label="Course figures" tabIndex={0}>
            <table className="table" data-testid="education-figures">
              <caption className="visually-hidden">Course figures</caption>
              <thead>
                <tr>
                  <th scope="col">Course</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">Enrolments</th>
                  <th scope="col" className="num">Completions</th>
                  <th scope="col" className="num">Completion rate</th>
                  <th scope="col" className="num">Quiz attempts</th>
                  <th scope="col" className="num">Quiz pass rate</th>
                  <th scope="col" className="num">Certificates</th>
                  <th scope="col" className="num">Forecasts right</th>
                </tr>
              </thead>
              <tbody>
                {figures.data.courses.map((c) => (
                  <tr key={c.courseId} data-slug={c.slug}>
                    <th scope="row">{c.title}</th>
                    <td>{statusLabel(c.status)}</td>
                    <td className="num" data-field="enrollments">{String(c.enrollments)}</td>
                    <td className="num" data-field="completions">{String(c.completions)}</td>
                    <td className="num">{formatPercent(c.completionRate)}</td>
                    <td className="num">{String(c.quizAttempts)}</td>
                    <td className="num" data-field="quiz-pass-rate">{formatPercent(c.quizPassRate)}</td>
                    <td className="num">{String(c.certificates)}</td>
                    <td className="num">
                      {String(c.forecastAnswersCorrect)} / {String(c.forecastAnswers)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      )}
    </div>
  );
}
