import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "@tanstack/react-router";
import { lazy, Suspense } from "react";
import { catalogClient, learningClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { Card, PageHeader } from "../../ui/page";
import "./education.css";
import { useProgress } from "./CoursePage";
import { duration } from "./labels";
import { Markdown } from "./Markdown";
import { Quiz } from "./Quiz";

// Charts only for lessons with live blocks: the chart library is a chunk of its own.
const LessonBlocks = lazy(() => import("./LessonBlocks").then((m) => ({ default: m.LessonBlocks })));

export function LessonPage() {
  const { course: ref, lesson: lessonId } = useParams({ from: "/courses/$course/lessons/$lesson" });
  const queryClient = useQueryClient();
  const course = useQuery({ queryKey: ["course", ref], queryFn: () => catalogClient.getCourse({ course: ref }) });
  const courseId = course.data?.course?.card?.courseId;
  const lesson = useQuery({
    queryKey: ["lesson", courseId, lessonId],
    enabled: Boolean(courseId),
    queryFn: () => learningClient.getLesson({ courseId, lessonId }),
  });
  const progress = useProgress(courseId, true);
  const complete = useMutation({
    mutationFn: () => learningClient.completeLesson({ courseId, lessonId }),
    onSuccess: (r) => queryClient.setQueryData(["progress", courseId], r.progress ?? null),
  });
  if (course.isPending || lesson.isPending) return <Loading />;
  const error = course.error ?? lesson.error;
  if (error) return <Alert>{toApiError(error).message}</Alert>;
  const l = lesson.data?.lesson;
  if (!l) return <Alert>This lesson could not be shown.</Alert>;
  const done = progress.data?.completedLessonIds.includes(l.id) ?? false;
  const certificate = progress.data?.certificateCode ?? "";
  return (
    <div>
      <PageHeader
        title={l.title}
        lead={
          <Link to="/courses/$course" params={{ course: ref }}>
            {course.data?.course?.card?.title}
          </Link>
        }
        actions={<span className="muted small">{duration(l.estimatedMinutes)}</span>}
      />
      {progress.data && (
        <progress className="progress-bar" max={100} value={progress.data.percentComplete} aria-label="Course progress" />
      )}
      <Card>
        <Markdown source={l.bodyMarkdown} testId="lesson-body" />
        {l.videoUrl && (
          <p>
            <a href={l.videoUrl} rel="noopener noreferrer nofollow" target="_blank">
              Watch the video
            </a>{" "}
            <span className="muted small">({Math.round(l.videoDurationSeconds / 60)} min)</span>
          </p>
        )}
      </Card>
      {l.blocks.length > 0 && (
        <Suspense fallback={<Loading label="Loading the live blocks…" />}>
          <LessonBlocks
            blocks={l.blocks}
            courseId={l.courseId}
            lessonId={l.id}
            progress={progress.data}
            onProgress={(p) => queryClient.setQueryData(["progress", courseId], p ?? null)}
          />
        </Suspense>
      )}
      {l.quiz ? (
        <Card title="Quiz">
          <Quiz
            courseId={l.courseId}
            lessonId={l.id}
            quiz={l.quiz}
            onGraded={(r) => queryClient.setQueryData(["progress", courseId], r.progress ?? null)}
          />
        </Card>
      ) : done ? (
        <p className="badge badge-ok" data-testid="lesson-done">
          Done
        </p>
      ) : (
        <>
          {complete.error && <Alert>{toApiError(complete.error).message}</Alert>}
          <Button busy={complete.isPending} onClick={() => complete.mutate()} data-testid="complete-lesson">
            Mark as done
          </Button>
        </>
      )}
      {certificate && (
        <Alert tone="success" testId="course-complete">
          Course complete. Your certificate:{" "}
          <Link to="/certificates/$code" params={{ code: certificate }} data-testid="certificate-link">
            {certificate}
          </Link>
        </Alert>
      )}
      <nav className="lesson-nav" aria-label="Lessons">
        {l.previousLessonId ? (
          <Link to="/courses/$course/lessons/$lesson" params={{ course: ref, lesson: l.previousLessonId }}>
            ← Previous
          </Link>
        ) : (
          <span />
        )}
        {l.nextLessonId && (
          <Link to="/courses/$course/lessons/$lesson" params={{ course: ref, lesson: l.nextLessonId }} data-testid="next-lesson">
            Next →
          </Link>
        )}
      </nav>
    </div>
  );
}
