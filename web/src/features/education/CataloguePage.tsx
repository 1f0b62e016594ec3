import type { CourseCard } from "@gen/trading/education/v1/education_pb";
import { CourseLevel, CourseTier } from "@gen/trading/education/v1/education_pb";
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { catalogClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import { PageHeader } from "../../ui/page";
import "./education.css";
import { duration, enumValue, LEVELS, levelLabel, TIERS, tierLabel } from "./labels";

const PAGE_SIZE = 12;

export function CourseCardView({ course }: { course: CourseCard }) {
  return (
    <li className="card course-card" data-testid="course-card" data-slug={course.slug}>
      <h2>
        <Link to="/courses/$course" params={{ course: course.slug }}>
          {course.title}
        </Link>
      </h2>
      <p className="course-meta">
        <span className="badge">{levelLabel(course.level)}</span>
        <span className={course.tier === CourseTier.PRO ? "badge badge-warn" : "badge badge-ok"}>{tierLabel(course.tier)}</span>
        <span className="muted small">
          {course.lessonCount} lessons · {duration(course.estimatedMinutes)}
        </span>
      </p>
      <p>{course.summary}</p>
      {course.tags.length > 0 && <p className="muted small">{course.tags.map((t) => `#${t}`).join(" ")}</p>}
    </li>
  );
}

export function CataloguePage() {
  const [draft, setDraft] = useState({ query: "", level: "0", tier: "0", tag: "" });
  const [filters, setFilters] = useState(draft);
  const courses = useInfiniteQuery({
    queryKey: ["courses", filters],
    initialPageParam: "",
    queryFn: ({ pageParam }) =>
      catalogClient.searchCourses({
        query: filters.query,
        level: enumValue(filters.level, LEVELS, CourseLevel.UNSPECIFIED),
        tier: enumValue(filters.tier, TIERS, CourseTier.UNSPECIFIED),
        tag: filters.tag.trim().toLowerCase(),
        pageSize: PAGE_SIZE,
        pageToken: pageParam,
      }),
    getNextPageParam: (last) => last.nextPageToken || undefined,
    placeholderData: keepPreviousData,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setFilters(draft);
  };
  const items = courses.data?.pages.flatMap((p) => p.courses) ?? [];
  const error = courses.error ? toApiError(courses.error) : null;
  return (
    <div>
      <PageHeader title="Courses" lead="Learn to read markets, test strategies honestly and manage risk." />
      <form className="filters" role="search" onSubmit={submit} data-testid="course-search">
        <TextField label="Search" name="query" type="search" value={draft.query} onChange={(v) => setDraft({ ...draft, query: v })} markOptional={false} />
        <SelectField
          label="Level"
          name="level"
          value={draft.level}
          onChange={(v) => setDraft({ ...draft, level: v })}
          options={[{ value: "0", label: "Any" }, ...LEVELS.map((l) => ({ value: String(l.value), label: l.label }))]}
        />
        <SelectField
          label="Tier"
          name="tier"
          value={draft.tier}
          onChange={(v) => setDraft({ ...draft, tier: v })}
          options={[{ value: "0", label: "Any" }, ...TIERS.map((t) => ({ value: String(t.value), label: t.label }))]}
        />
        <TextField label="Tag" name="tag" value={draft.tag} onChange={(v) => setDraft({ ...draft, tag: v })} markOptional={false} />
        <div className="filters-submit">
          <Button type="submit">Search</Button>
        </div>
      </form>
      {error && <Alert>{error.message}</Alert>}
      {courses.isPending ? (
        <Loading />
      ) : items.length === 0 ? (
        <p data-testid="no-courses">No course matches.</p>
      ) : (
        <ul className="course-cards" data-testid="course-list">
          {items.map((c) => (
            <CourseCardView key={c.courseId} course={c} />
          ))}
        </ul>
      )}
      {courses.hasNextPage && (
        <div className="pager">
          <Button variant="secondary" busy={courses.isFetchingNextPage} onClick={() => void courses.fetchNextPage()}>
            More courses
          </Button>
        </div>
      )}
    </div>
  );
}
