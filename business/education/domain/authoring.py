"""Authoring: instructors edit the courses they teach, admins every course. Edits change the
draft revision and must name the revision they were made on (optimistic concurrency); learners
read the published revision, which changes only when an author publishes. Every change is audited
with its before and after."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from business.audit.domain import Client
from business.education.domain.context import Education, is_admin
from business.education.domain.entities import (
    ARCHIVED,
    DRAFT,
    PUBLISHED,
    Course,
    CourseContent,
    CourseFigures,
    Instructor,
)
from business.education.domain.live_blocks import check_live_blocks
from business.education.domain.ports import EducationUnitOfWork, SlugTaken
from business.education.domain.validation import checked_content
from business.identity.domain import paging
from service_runtime.caller import Caller
from service_runtime.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)

STALE_REVISION = "education.stale_revision"


@dataclass(frozen=True)
class Page:
    courses: list[Course]
    next_page_token: str


def outline(course: Course) -> dict[str, Any]:
    """A course's state for the audit log: its fields, its outline and a digest of the full draft."""
    content = course.draft
    document = json.dumps(content.to_json(), sort_keys=True).encode()
    return {
        "status": course.status,
        "revision": course.revision,
        "published_revision": course.published_revision,
        "title": content.title,
        "slug": content.slug,
        "summary": content.summary,
        "level": content.level,
        "tier": content.tier,
        "tags": list(content.tags),
        "instructor_ids": list(content.instructor_ids),
        "cover_image_url": content.cover_image_url,
        "modules": [
            {"id": m.id, "title": m.title, "lessons": [x.id for x in m.lessons]} for m in content.modules
        ],
        "content_sha256": hashlib.sha256(document).hexdigest(),
    }


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _record_change(
    edu: Education,
    uow: EducationUnitOfWork,
    action: str,
    client: Client,
    caller: Caller,
    course: Course,
    before: dict[str, Any],
) -> None:
    """The audit row of a change to `course`: only the fields it changed, before and after."""
    old, new = _changes(before, outline(course))
    edu.record(uow, action, client, actor_id=caller.subject, subject_id=course.id, before=old, after=new)


def _instructors(uow: EducationUnitOfWork, ids: tuple[str, ...]) -> tuple[Instructor, ...]:
    out = []
    for i, user_id in enumerate(ids):
        person = uow.people.get(user_id)
        if person is None:
            raise InvalidArgument.field(f"content.instructor_ids[{i}]", "is not a user of the platform")
        out.append(Instructor(person.id, person.display_name))
    return tuple(out)


def _with_caller(content: CourseContent, caller: Caller) -> CourseContent:
    """An instructor always teaches what they create or edit (an admin need not)."""
    if is_admin(caller) or caller.subject in content.instructor_ids:
        return content
    return CourseContent(**{**content.__dict__, "instructor_ids": (caller.subject, *content.instructor_ids)})


def editable(uow: EducationUnitOfWork, caller: Caller, course_id: str, *, for_update: bool) -> Course:
    """The course, if the caller may edit it; another instructor's course is not found."""
    if not course_id.strip():
        raise InvalidArgument.field("course_id", "is required")
    course = uow.courses.get(course_id, for_update=for_update) if len(course_id) <= 64 else None
    if course is None or not (is_admin(caller) or course.taught_by(caller.subject)):
        raise NotFound(f"no course {course_id} among the courses you teach")
    return course


def _check_revision(course: Course, expected: int) -> None:
    if expected != course.revision:
        raise Aborted(
            f"course {course.id} is at revision {course.revision}, not {expected}: "
            "reload it and make your change again",
            reason=STALE_REVISION,
            metadata={"current_revision": str(course.revision)},
        )


def _slug_free(uow: EducationUnitOfWork, content: CourseContent, course_id: str) -> None:
    other = uow.courses.by_slug(content.slug)
    if other is not None and other.id != course_id:
        raise AlreadyExists(f"another course has the slug {content.slug!r}")


async def create_course(edu: Education, caller: Caller, content: CourseContent, client: Client) -> Course:
    content = _with_caller(checked_content(content), caller)
    await check_live_blocks(edu.market, content)

    def work(uow: EducationUnitOfWork) -> Course:
        _slug_free(uow, content, "")
        now = edu.now()
        course = Course(
            id=str(uuid.uuid4()),
            status=DRAFT,
            revision=1,
            draft=content,
            instructors=_instructors(uow, content.instructor_ids),
            created_at=now,
            updated_at=now,
        )
        try:
            uow.courses.add(course)
        except SlugTaken:
            raise AlreadyExists(f"another course has the slug {content.slug!r}") from None
        edu.record(
            uow,
            "education.course.created",
            client,
            actor_id=caller.subject,
            subject_id=course.id,
            after=outline(course),
        )
        return course

    return await edu.transactions.run(work)


async def update_course(
    edu: Education,
    caller: Caller,
    course_id: str,
    expected_revision: int,
    content: CourseContent,
    client: Client,
) -> Course:
    content = _with_caller(checked_content(content), caller)
    await check_live_blocks(edu.market, content)

    def work(uow: EducationUnitOfWork) -> Course:
        course = editable(uow, caller, course_id, for_update=True)
        _check_revision(course, expected_revision)
        _slug_free(uow, content, course.id)
        before = outline(course)
        course.draft = content
        course.instructors = _instructors(uow, content.instructor_ids)
        course.revision += 1
        course.updated_at = edu.now()
        try:
            uow.courses.save(course)
        except SlugTaken:
            raise AlreadyExists(f"another course has the slug {content.slug!r}") from None
        _record_change(edu, uow, "education.course.updated", client, caller, course, before)
        return course

    return await edu.transactions.run(work)


async def publish_course(
    edu: Education, caller: Caller, course_id: str, expected_revision: int, client: Client
) -> Course:
    def work(uow: EducationUnitOfWork) -> Course:
        course = editable(uow, caller, course_id, for_update=True)
        _check_revision(course, expected_revision)
        if course.draft.lesson_count == 0:
            raise FailedPrecondition("a course needs at least one lesson before it is published")
        before = outline(course)
        now = edu.now()
        course.published = course.draft
        course.published_revision = course.revision
        course.status = PUBLISHED
        course.published_at = now
        course.updated_at = now
        uow.courses.save(course)
        uow.catalogue.index(course)
        _record_change(edu, uow, "education.course.published", client, caller, course, before)
        return course

    return await edu.transactions.run(work)


async def archive_course(
    edu: Education, caller: Caller, course_id: str, expected_revision: int, client: Client
) -> Course:
    def work(uow: EducationUnitOfWork) -> Course:
        course = editable(uow, caller, course_id, for_update=True)
        _check_revision(course, expected_revision)
        if course.status != PUBLISHED:
            raise FailedPrecondition(f"only a published course can be archived; this one is {course.status}")
        before = outline(course)
        course.status = ARCHIVED
        course.updated_at = edu.now()
        uow.courses.save(course)
        uow.catalogue.remove(course.id)
        _record_change(edu, uow, "education.course.archived", client, caller, course, before)
        return course

    return await edu.transactions.run(work)


async def get_draft(edu: Education, caller: Caller, course_id: str) -> Course:
    return await edu.transactions.run(lambda uow: editable(uow, caller, course_id, for_update=False))


async def list_authored(edu: Education, caller: Caller, page_size: int, page_token: str) -> Page:
    size = paging.page_size(page_size, default=50, maximum=100)
    offset = offset_of(page_token)

    def work(uow: EducationUnitOfWork) -> Page:
        courses = uow.courses.authored(
            None if is_admin(caller) else caller.subject, limit=size + 1, offset=offset
        )
        more = len(courses) > size
        return Page(courses[:size], paging.encode({"o": offset + size}) if more else "")

    return await edu.transactions.run(work)


@dataclass(frozen=True)
class FiguresPage:
    figures: list[CourseFigures]
    next_page_token: str


async def course_figures(edu: Education, caller: Caller, page_size: int, page_token: str) -> FiguresPage:
    """Enrolments, completions and quiz pass rates per course, most enrolments first (admins)."""
    if not is_admin(caller):
        raise PermissionDenied("course figures are for admins")
    size = paging.page_size(page_size, default=50, maximum=100)
    offset = offset_of(page_token)

    def work(uow: EducationUnitOfWork) -> FiguresPage:
        figures = uow.figures.per_course(limit=size + 1, offset=offset)
        more = len(figures) > size
        return FiguresPage(figures[:size], paging.encode({"o": offset + size}) if more else "")

    return await edu.transactions.run(work)


def offset_of(page_token: str) -> int:
    """The offset an offset page token carries (0 without one)."""
    key = paging.decode(page_token)
    if key is None:
        return 0
    value = key.get("o")
    if not isinstance(value, int) or value < 0 or value > 1_000_000:
        raise InvalidArgument.field("page_token", "is not a token this API issued")
    return value
