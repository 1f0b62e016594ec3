import { Code, ConnectError } from "@connectrpc/connect";
import { CourseStatus, CourseTier } from "@gen/trading/education/v1/education_pb";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "@tanstack/react-router";
import { catalogClient, learningClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { useSession } from "../../session/instance";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { Card, PageHeader } from "../../ui/page";
import "./education.css";
import { duration, levelLabel, tierLabel } from "./labels";

/** The caller's progress in a course, or null when not enrolled (FAILED_PRECONDITION). */
export function useProgress(courseId: string | undefined, signedIn: boolean) {
  return useQuery({
    queryKey: ["progress", courseId],
    enabled: Boolean(courseId) && signedIn,
    queryFn: async () => {
      try {
        return (await learningClient.getProgress({ courseId })).progress ?? null;
      } catch (err) {
        if (err instanceof ConnectError && err.code === Code.FailedPrecondition) return null;
        throw err;
      }
    },
  });
}

export function CoursePage() {
  const { course: ref } = useParams({ from: "/courses/$course" });
  const snapshot = useSession();
  const signedIn = snapshot.status === "signed-in";
  const queryClient = useQueryClient();
  const course = useQuery({ queryKey: ["course", ref], queryFn: () => catalogClient.getCourse({ course: ref }) });
  const outline = course.data?.course;
  const card = outline?.card;
  const progress = useProgress(card?.courseId, signedIn);
  const enrol = useMutation({
    mutationFn: async () => {
      const courseId = card!.courseId;
      const res =
        card!.tier === CourseTier.PRO ? await learningClient.enrollProCourse({ courseId }) : await learningClient.enrollCourse({ courseId });
      return res.progress ?? null;
    },
    onSuccess: (p) => queryClient.setQueryData(["progress", card?.courseId], p),
  });
  if (course.isPending) return <Loading />;
  if (course.error) return <Alert>{toApiError(course.error).message}</Alert>;
  if (!outline || !card) return <Alert>This course could not be shown.</Alert>;
  const mine = progress.data ?? null;
  const done = new Set(mine?.completedLessonIds ?? []);
  const needsPro = card.tier === CourseTier.PRO && signedIn && snapshot.user?.plan !== "pro";
  const archived = outline.status === CourseStatus.ARCHIVED;
  return (
    <div>
      <PageHeader
        title={card.title}
        lead={card.summary}
        actions={
          <span className="course-meta">
            <span className="badge">{levelLabel(card.level)}</span>
            <span className="badge">{tierLabel(card.tier)}</span>
            <span className="muted small">{duration(card.estimatedMinutes)}</span>
          </span>
        }
      />
      {card.instructors.length > 0 && <p className="muted">By {card.instructors.map((i) => i.displayName).join(", ")}</p>}
      <Card title="Your progress">
        {!signedIn ? (
          <p>
            <Link to="/sign-in" search={{ redirect: `/courses/${ref}` }}>
              Sign in
            </Link>{" "}
            to enrol.
          </p>
        ) : progress.isPending ? (
          <Loading />
        ) : mine ? (
          <div className="stack" data-testid="course-progress">
            <progress className="progress-bar" max={100} value={mine.percentComplete} aria-label="Course progress" />
            <p data-testid="percent-complete">{mine.percentComplete}% complete</p>
            {mine.certificateCode ? (
              <p>
                Certificate:{" "}
                <Link to="/certificates/$code" params={{ code: mine.certificateCode }} data-testid="certificate-link">
                  {mine.certificateCode}
                </Link>
              </p>
            ) : (
              mine.resumeLessonId && (
                <Link
                  className="btn btn-primary"
                  to="/courses/$course/lessons/$lesson"
                  params={{ course: ref, lesson: mine.resumeLessonId }}
                  data-testid="resume-link"
                >
                  {mine.completedLessonIds.length ? "Resume" : "Start"}
                </Link>
              )
            )}
          </div>
        ) : archived ? (
          <p>This course is archived: it takes no new learners.</p>
        ) : needsPro ? (
          <Alert tone="info">This is a Pro course: it needs the Pro plan.</Alert>
        ) : (
          <>
            {enrol.error && <Alert>{toApiError(enrol.error).message}</Alert>}
            <Button busy={enrol.isPending} onClick={() => enrol.mutate()} data-testid="enrol-button">
              Enrol
            </Button>
          </>
        )}
      </Card>
      <Card title="Contents">
        <div className="outline">
          {outline.modules.map((m) => (
            <section key={m.id}>
              <h3>{m.title}</h3>
              <ol>
                {m.lessons.map((l) => (
                  <li key={l.id} data-testid="outline-lesson">
                    {mine ? (
                      <Link to="/courses/$course/lessons/$lesson" params={{ course: ref, lesson: l.id }}>
                        {l.title}
                      </Link>
                    ) : (
                      l.title
                    )}{" "}
                    <span className="muted small">
                      {duration(l.estimatedMinutes)}
                      {l.hasQuiz ? " · quiz" : ""}
                      {l.hasVideo ? " · video" : ""}
                      {done.has(l.id) ? " · done" : ""}
                    </span>
                  </li>
                ))}
              </ol>
            </section>
          ))}
        </div>
      </Card>
    </div>
  );
}
