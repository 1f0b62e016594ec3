import { CourseLevel, CourseTier } from "@gen/trading/education/v1/education_pb";
import { useMutation, useQuery } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { authoringClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { Card, PageHeader } from "../../ui/page";
import "./education.css";
import { statusLabel } from "./labels";

/** An instructor's courses (an admin's: every course) and a new draft. */
export function AuthoringPage() {
  const navigate = useNavigate();
  const courses = useQuery({ queryKey: ["authored"], queryFn: () => authoringClient.listAuthoredCourses({ pageSize: 100 }) });
  const [draft, setDraft] = useState({ title: "", slug: "" });
  const create = useMutation({
    mutationFn: () =>
      authoringClient.createCourse({
        content: {
          title: draft.title,
          slug: draft.slug,
          level: CourseLevel.BEGINNER,
          tier: CourseTier.FREE,
          modules: [{ title: "Module 1", lessons: [{ title: "Lesson 1", bodyMarkdown: "# Lesson 1\n", estimatedMinutes: 5 }] }],
        },
      }),
    onSuccess: (r) => void navigate({ to: "/authoring/$courseId", params: { courseId: r.course?.courseId ?? "" } }),
  });
  const onCreate = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const error = create.error
    ? toApiError(create.error, { fields: { "content.title": ["title", "Title"], "content.slug": ["slug", "Address"] } })
    : null;
  return (
    <div>
      <PageHeader title="Authoring" lead="Write courses; learners see a revision once you publish it." />
      {courses.error && <Alert>{toApiError(courses.error).message}</Alert>}
      <Card title="Your courses">
        {courses.isPending ? (
          <Loading />
        ) : courses.data?.courses.length ? (
          <ul className="stack" data-testid="authored-courses">
            {courses.data.courses.map((c) => (
              <li key={c.courseId}>
                <Link to="/authoring/$courseId" params={{ courseId: c.courseId }}>
                  {c.content?.title}
                </Link>{" "}
                <span className="badge">{statusLabel(c.status)}</span>{" "}
                <span className="muted small">
                  revision {String(c.revision)}
                  {c.hasUnpublishedChanges ? " · unpublished changes" : ""}
                </span>
              </li>
            ))}
          </ul>
        ) : (
          <p>No course yet.</p>
        )}
      </Card>
      <Card title="New course">
        <form onSubmit={onCreate} className="stack" data-testid="new-course">
          <TextField label="Title" name="title" value={draft.title} onChange={(v) => setDraft({ ...draft, title: v })} required error={error?.fieldErrors.title} />
          <TextField
            label="Address"
            name="slug"
            value={draft.slug}
            onChange={(v) => setDraft({ ...draft, slug: v })}
            required
            hint="Lower-case letters, digits and dashes: /courses/<address>"
            error={error?.fieldErrors.slug}
          />
          {error && !Object.keys(error.fieldErrors).length && <Alert>{error.message}</Alert>}
          <div className="form-actions">
            <Button type="submit" busy={create.isPending}>
              Create draft
            </Button>
          </div>
        </form>
      </Card>
    </div>
  );
}
