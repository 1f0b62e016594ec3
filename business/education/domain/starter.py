"""The starter catalogue: courses written for this platform, loaded when the service starts and
idempotently (a course whose slug exists already is left as it is, edits and archiving included)."""

from __future__ import annotations

import uuid
from datetime import datetime

from business.audit import domain as audit
from business.education.domain.authoring import outline
from business.education.domain.entities import PUBLISHED, Course, CourseContent
from business.education.domain.ports import EducationUnitOfWork
from business.education.domain.validation import checked_content

STARTER = audit.Client(ip="", user_agent="starter-catalogue", request_id="")


def load(uow: EducationUnitOfWork, now: datetime, courses: list[CourseContent]) -> list[str]:
    """Publishes each course not there yet; returns the slugs it added."""
    added = []
    for content in courses:
        content = checked_content(content)
        if uow.courses.by_slug(content.slug) is not None:
            continue
        course = Course(
            id=str(uuid.uuid4()),
            status=PUBLISHED,
            revision=1,
            published_revision=1,
            draft=content,
            published=content,
            instructors=(),
            created_at=now,
            updated_at=now,
            published_at=now,
        )
        uow.courses.add(course)
        uow.catalogue.index(course)
        audit.record(
            uow.audit,
            now,
            "education.course.published",
            STARTER,
            actor_id="system",
            subject_id=course.id,
            after=outline(course),
            detail={"starter_catalogue": True},
        )
        added.append(content.slug)
    return added
