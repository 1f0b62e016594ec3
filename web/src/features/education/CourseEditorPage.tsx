import { Code, ConnectError } from "@connectrpc/connect";
import type { CourseContent, CourseDraft, LessonBlock, LessonContent } from "@gen/trading/education/v1/education_pb";
import { CourseLevel, CourseStatus, CourseTier } from "@gen/trading/education/v1/education_pb";
import { useMutation, useQuery } from "@tanstack/react-query";
import { Link, useParams } from "@tanstack/react-router";
import { lazy, Suspense, useEffect, useId, useState } from "react";
import { authoringClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import { Card, PageHeader } from "../../ui/page";
import { BlocksEditor } from "./BlocksEditor";
import { blockErrorsOf, blockKey, type BlockErrors } from "./blockForm";
import "./education.css";
import { enumValue, LEVELS, statusLabel, TIERS } from "./labels";
import { Markdown } from "./Markdown";
import { QuizEditor } from "./QuizEditor";

// The live blocks (and the chart library) load only when a lesson has saved blocks to preview.
const LessonBlocks = lazy(() => import("./LessonBlocks").then((m) => ({ default: m.LessonBlocks })));

function conflictText(err: unknown): string | null {
  if (err instanceof ConnectError && err.code === Code.Aborted) {
    return `${err.rawMessage} Your changes are still here: reload to see the other edit, then apply yours again.`;
  }
  return null;
}

function LessonEditor({
  lesson,
  onChange,
  courseId,
  savedBlocks,
  errorsOf,
  onRearrange,
}: {
  lesson: LessonContent;
  onChange: (l: LessonContent) => void;
  courseId: string;
  savedBlocks: LessonBlock[];
  errorsOf: (block: number) => Record<string, string>;
  onRearrange: () => void;
}) {
  const id = useId();
  return (
    <div className="editor-lesson" data-testid="lesson-editor">
      <TextField label="Lesson title" name="lesson-title" value={lesson.title} onChange={(v) => onChange({ ...lesson, title: v })} required />
      <TextField
        label="Minutes"
        name="lesson-minutes"
        type="number"
        value={String(lesson.estimatedMinutes)}
        onChange={(v) => onChange({ ...lesson, estimatedMinutes: Number(v) || 0 })}
        required
      />
      <div className="editor-columns">
        <div className="field">
          <label htmlFor={`${id}-body`}>Body (markdown)</label>
          <textarea id={`${id}-body`} value={lesson.bodyMarkdown} onChange={(e) => onChange({ ...lesson, bodyMarkdown: e.target.value })} data-field="lesson-body" />
        </div>
        <div>
          <p className="muted small">Preview</p>
          <Markdown source={lesson.bodyMarkdown} testId="lesson-preview" />
        </div>
      </div>
      <BlocksEditor blocks={lesson.blocks} onChange={(blocks) => onChange({ ...lesson, blocks })} errorsOf={errorsOf} onRearrange={onRearrange} />
      {savedBlocks.length > 0 && (
        <div data-testid="blocks-preview">
          <p className="muted small">Preview of the live blocks as saved</p>
          <Suspense fallback={<Loading label="Loading the live blocks…" />}>
            <LessonBlocks blocks={savedBlocks} courseId={courseId} lessonId={lesson.id} onProgress={() => {}} />
          </Suspense>
        </div>
      )}
      <QuizEditor quiz={lesson.quiz} onChange={(quiz) => onChange({ ...lesson, quiz })} />
    </div>
  );
}

export function CourseEditorPage() {
  const { courseId } = useParams({ from: "/authoring/$courseId" });
  const loaded = useQuery({ queryKey: ["draft", courseId], queryFn: () => authoringClient.getCourseDraft({ courseId }) });
  const [course, setCourse] = useState<CourseDraft | null>(null);
  const [content, setContent] = useState<CourseContent | null>(null);
  useEffect(() => {
    if (loaded.data?.course && course === null) {
      setCourse(loaded.data.course);
      setContent(loaded.data.course.content ?? null);
    }
  }, [loaded.data, course]);
  const save = useMutation({
    mutationFn: () => authoringClient.updateCourse({ courseId, expectedRevision: course!.revision, content: content! }),
    onSuccess: (r) => {
      setCourse(r.course ?? null);
      setContent(r.course?.content ?? null);
    },
  });
  const publish = useMutation({
    mutationFn: () => authoringClient.publishCourse({ courseId, expectedRevision: course!.revision }),
    onSuccess: (r) => setCourse(r.course ?? null),
  });
  if (loaded.isPending) return <Loading />;
  if (loaded.error) return <Alert>{toApiError(loaded.error).message}</Alert>;
  if (!course || !content) return <Loading />;
  const failure = save.error ?? publish.error;
  const blockErrors: BlockErrors = blockErrorsOf(save.error);
  const saved = (m: number, l: number, lesson: LessonContent): LessonBlock[] => {
    const was = course.content?.modules[m]?.lessons[l];
    return was && was.id === lesson.id ? was.blocks : [];
  };
  const setLesson = (m: number, l: number, lesson: LessonContent) =>
    setContent({
      ...content,
      modules: content.modules.map((mod, i) =>
        i === m ? { ...mod, lessons: mod.lessons.map((x, j) => (j === l ? lesson : x)) } : mod,
      ),
    });
  const addLesson = (m: number) =>
    setContent({
      ...content,
      modules: content.modules.map((mod, i) =>
        i === m
          ? { ...mod, lessons: [...mod.lessons, { ...mod.lessons[0]!, id: "", title: "New lesson", bodyMarkdown: "", quiz: undefined, blocks: [], videoUrl: "", videoDurationSeconds: 0, estimatedMinutes: 5 }] }
          : mod,
      ),
    });
  const dirty = JSON.stringify(content) !== JSON.stringify(course.content);
  return (
    <div>
      <PageHeader
        title={content.title || "Untitled course"}
        lead={<Link to="/authoring">All your courses</Link>}
        actions={
          <span className="course-meta" data-testid="draft-state">
            <span className="badge">{statusLabel(course.status)}</span>
            <span className="muted small">
              revision {String(course.revision)}
              {course.status !== CourseStatus.DRAFT ? ` · learners see revision ${String(course.publishedRevision)}` : ""}
            </span>
          </span>
        }
      />
      {failure && <Alert testId="editor-error">{conflictText(failure) ?? toApiError(failure).message}</Alert>}
      <Card title="Course">
        <div className="stack">
          <TextField label="Title" name="title" value={content.title} onChange={(v) => setContent({ ...content, title: v })} required />
          <TextField label="Summary" name="summary" value={content.summary} onChange={(v) => setContent({ ...content, summary: v })} />
          <SelectField
            label="Level"
            name="level"
            value={String(content.level)}
            onChange={(v) => setContent({ ...content, level: enumValue(v, LEVELS, CourseLevel.BEGINNER) })}
            options={LEVELS.map((l) => ({ value: String(l.value), label: l.label }))}
          />
          <SelectField
            label="Tier"
            name="tier"
            value={String(content.tier)}
            onChange={(v) => setContent({ ...content, tier: enumValue(v, TIERS, CourseTier.FREE) })}
            options={TIERS.map((t) => ({ value: String(t.value), label: t.label }))}
          />
          <TextField
            label="Tags"
            name="tags"
            value={content.tags.join(" ")}
            hint="Separated by spaces"
            onChange={(v) => setContent({ ...content, tags: v.split(/\s+/).filter(Boolean) })}
          />
        </div>
      </Card>
      {content.modules.map((mod, m) => (
        <Card key={mod.id || m} title={`Module ${m + 1}`}>
          <TextField
            label="Module title"
            name="module-title"
            value={mod.title}
            onChange={(v) => setContent({ ...content, modules: content.modules.map((x, i) => (i === m ? { ...x, title: v } : x)) })}
            required
          />
          {mod.lessons.map((lesson, l) => (
            <LessonEditor
              key={lesson.id || l}
              lesson={lesson}
              onChange={(x) => setLesson(m, l, x)}
              courseId={courseId}
              savedBlocks={saved(m, l, lesson)}
              errorsOf={(b) => blockErrors[blockKey(m, l, b)] ?? {}}
              onRearrange={() => save.reset()}
            />
          ))}
          {mod.lessons.length > 0 && (
            <Button variant="secondary" onClick={() => addLesson(m)}>
              Add a lesson
            </Button>
          )}
        </Card>
      ))}
      <div className="form-actions">
        <Button busy={save.isPending} disabled={!dirty} onClick={() => save.mutate()} data-testid="save-draft">
          Save draft
        </Button>
        <Button variant="secondary" busy={publish.isPending} disabled={dirty || !course.hasUnpublishedChanges} onClick={() => publish.mutate()} data-testid="publish">
          Publish revision {String(course.revision)}
        </Button>
      </div>
    </div>
  );
}
