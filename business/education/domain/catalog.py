"""The public catalogue: full-text search over published courses with filters, and a course's
published outline by id or slug."""

from __future__ import annotations

from business.education.domain.authoring import Page, offset_of
from business.education.domain.context import Education
from business.education.domain.entities import LEVELS, TIERS, Course, CourseSearch
from business.education.domain.ports import EducationUnitOfWork
from business.education.domain.validation import TAG
from business.identity.domain import paging
from service_runtime.errors import InvalidArgument, NotFound


def _checked(search: CourseSearch) -> CourseSearch:
    text = " ".join(search.text.split())
    if len(text) > 200:
        raise InvalidArgument.field("query", "must be at most 200 characters")
    tag = search.tag.strip().lower()
    if tag and not TAG.match(tag):
        raise InvalidArgument.field("tag", "must be lower-case letters, digits and dashes (at most 32)")
    if search.level and search.level not in LEVELS:
        raise InvalidArgument.field("level", "is not a known level")
    if search.tier and search.tier not in TIERS:
        raise InvalidArgument.field("tier", "is not a known tier")
    return CourseSearch(text, search.level, tag, search.tier)


async def search_courses(edu: Education, search: CourseSearch, page_size: int, page_token: str) -> Page:
    search = _checked(search)
    size = paging.page_size(page_size, default=20, maximum=50)
    offset = offset_of(page_token)

    def work(uow: EducationUnitOfWork) -> Page:
        courses = uow.catalogue.search(search, limit=size + 1, offset=offset)
        more = len(courses) > size
        return Page(courses[:size], paging.encode({"o": offset + size}) if more else "")

    return await edu.transactions.run(work)


def visible(uow: EducationUnitOfWork, ref: str, field: str = "course_id") -> Course:
    """A course learners may see (published once, archived included), by id or slug."""
    ref = ref.strip()
    if not ref:
        raise InvalidArgument.field(field, "is required")
    course = None
    if len(ref) <= 80:
        course = uow.courses.get(ref) or uow.courses.by_slug(ref)
    if course is None or course.published is None:
        raise NotFound(f"no published course {ref}")
    return course


async def get_course(edu: Education, ref: str) -> Course:
    return await edu.transactions.run(lambda uow: visible(uow, ref, "course"))
