"""AuthoringService through a real server: roles, the draft -> published -> archived workflow,
revisions published on demand, optimistic concurrency, other instructors' courses, audit rows."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from business.audit.data import SqlAuditLog
from business.audit.domain import AuditQuery
from business.shared.database import BusinessStore
from tests.business.education.conftest import As
from tests.business.education.content import course_content
from tests.support.in_process import violated_fields
from trading.education.v1 import authoring_service_pb2 as pb
from trading.education.v1 import authoring_service_pb2_grpc as pb_grpc
from trading.education.v1 import catalog_service_pb2 as catalog_pb
from trading.education.v1 import catalog_service_pb2_grpc as catalog_grpc
from trading.education.v1 import education_pb2 as edu


async def _refused(call: object, code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    assert refused.value.code() == code, refused.value.details()
    return refused.value


def audit_of(store: BusinessStore, course_id: str) -> list[tuple[str, dict | None, dict | None]]:  # type: ignore[type-arg]
    with store.transaction() as session:
        events = SqlAuditLog(session).newest_first(AuditQuery(subject_id=course_id), limit=50, before_id=None)
    return [(e.action, e.before, e.after) for e in reversed(events)]


async def test_only_instructors_and_admins_author(channel: grpc.aio.Channel, as_: As) -> None:
    stub = pb_grpc.AuthoringServiceStub(channel)
    request = pb.CreateCourseRequest(content=course_content())
    await _refused(stub.CreateCourse(request, metadata=as_("learner-1")), grpc.StatusCode.PERMISSION_DENIED)
    await _refused(stub.CreateCourse(request), grpc.StatusCode.UNAUTHENTICATED)
    created = await stub.CreateCourse(request, metadata=as_("teacher-1"))
    assert created.course.revision == 1
    assert created.course.status == edu.COURSE_STATUS_DRAFT
    assert [(i.user_id, i.display_name) for i in created.course.instructors] == [("teacher-1", "Ada Teacher")]
    admin_made = await stub.CreateCourse(
        pb.CreateCourseRequest(content=course_content(slug="admin-course", instructor_ids=["teacher-2"])),
        metadata=as_("admin-1"),
    )
    assert [i.user_id for i in admin_made.course.instructors] == ["teacher-2"]


async def test_bad_content_names_every_field(channel: grpc.aio.Channel, as_: As) -> None:
    stub = pb_grpc.AuthoringServiceStub(channel)
    content = course_content(slug="Bad Slug!", title="")
    content.level = edu.COURSE_LEVEL_UNSPECIFIED
    content.modules[1].lessons[0].quiz.questions[0].correct_choice_ids[:] = ["zzz"]
    content.modules[0].lessons[1].video_url = "javascript:alert(1)"
    content.instructor_ids.append("nobody-at-all")
    error = await _refused(
        stub.CreateCourse(pb.CreateCourseRequest(content=content), metadata=as_("teacher-1")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert violated_fields(error) == [
        "content.title",
        "content.slug",
        "content.level",
        "content.modules[0].lessons[1].video_url",
        "content.modules[1].lessons[0].quiz.questions[0].correct_choice_ids",
    ]
    unknown = await _refused(
        stub.CreateCourse(
            pb.CreateCourseRequest(content=course_content(instructor_ids=["nobody"])),
            metadata=as_("teacher-1"),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert violated_fields(unknown) == ["content.instructor_ids[1]"]
    await stub.CreateCourse(pb.CreateCourseRequest(content=course_content()), metadata=as_("teacher-1"))
    await _refused(
        stub.CreateCourse(pb.CreateCourseRequest(content=course_content()), metadata=as_("teacher-2")),
        grpc.StatusCode.ALREADY_EXISTS,
    )


async def test_published_revision_changes_only_on_publish(
    channel: grpc.aio.Channel, as_: As, store: BusinessStore
) -> None:
    stub = pb_grpc.AuthoringServiceStub(channel)
    catalog = catalog_grpc.CatalogServiceStub(channel)
    teacher = as_("teacher-1")
    course = (
        await stub.CreateCourse(pb.CreateCourseRequest(content=course_content()), metadata=teacher)
    ).course
    await _refused(
        catalog.GetCourse(catalog_pb.GetCourseRequest(course=course.course_id)), grpc.StatusCode.NOT_FOUND
    )

    published = (
        await stub.PublishCourse(
            pb.PublishCourseRequest(course_id=course.course_id, expected_revision=1), metadata=teacher
        )
    ).course
    assert (published.status, published.published_revision, published.has_unpublished_changes) == (
        edu.COURSE_STATUS_PUBLISHED,
        1,
        False,
    )
    edited = course_content(title="Testing candles, second edition")
    edited.modules[0].lessons[0].body_markdown = "half-written"
    draft = (
        await stub.UpdateCourse(
            pb.UpdateCourseRequest(course_id=course.course_id, expected_revision=1, content=edited),
            metadata=teacher,
        )
    ).course
    assert (draft.revision, draft.published_revision, draft.has_unpublished_changes) == (2, 1, True)
    # Learners still see revision 1.
    seen = (await catalog.GetCourse(catalog_pb.GetCourseRequest(course="test-course"))).course
    assert (seen.revision, seen.card.title) == (1, "Testing candles")

    await stub.PublishCourse(
        pb.PublishCourseRequest(course_id=course.course_id, expected_revision=2), metadata=teacher
    )
    seen = (await catalog.GetCourse(catalog_pb.GetCourseRequest(course=course.course_id))).course
    assert (seen.revision, seen.card.title) == (2, "Testing candles, second edition")

    archived = (
        await stub.ArchiveCourse(
            pb.ArchiveCourseRequest(course_id=course.course_id, expected_revision=2), metadata=teacher
        )
    ).course
    assert archived.status == edu.COURSE_STATUS_ARCHIVED
    found = await catalog.SearchCourses(catalog_pb.SearchCoursesRequest(query="candles"))
    assert course.course_id not in [c.course_id for c in found.courses]

    actions = audit_of(store, course.course_id)
    assert [a for a, _, _ in actions] == [
        "education.course.created",
        "education.course.published",
        "education.course.updated",
        "education.course.published",
        "education.course.archived",
    ]
    _, before, after = actions[2]
    assert before is not None and after is not None
    assert (before["title"], after["title"]) == ("Testing candles", "Testing candles, second edition")
    assert (before["revision"], after["revision"]) == (1, 2)
    assert before["content_sha256"] != after["content_sha256"]
    assert (actions[4][1], actions[4][2]) == ({"status": "published"}, {"status": "archived"})


async def test_a_stale_edit_is_aborted_naming_the_current_revision(
    channel: grpc.aio.Channel, as_: As, store: BusinessStore
) -> None:
    stub = pb_grpc.AuthoringServiceStub(channel)
    teacher = as_("teacher-1")
    course = (
        await stub.CreateCourse(pb.CreateCourseRequest(content=course_content()), metadata=teacher)
    ).course
    first = course_content(title="First editor's title")
    second = course_content(title="Second editor's title")
    await stub.UpdateCourse(
        pb.UpdateCourseRequest(course_id=course.course_id, expected_revision=1, content=first),
        metadata=teacher,
    )
    error = await _refused(
        stub.UpdateCourse(
            pb.UpdateCourseRequest(course_id=course.course_id, expected_revision=1, content=second),
            metadata=as_("admin-1"),
        ),
        grpc.StatusCode.ABORTED,
    )
    assert "revision 2" in (error.details() or "")
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.reason, dict(info.metadata)) == ("education.stale_revision", {"current_revision": "2"})
    draft = (
        await stub.GetCourseDraft(pb.GetCourseDraftRequest(course_id=course.course_id), metadata=teacher)
    ).course
    assert (draft.revision, draft.content.title) == (2, "First editor's title")
    await _refused(
        stub.PublishCourse(
            pb.PublishCourseRequest(course_id=course.course_id, expected_revision=1), metadata=teacher
        ),
        grpc.StatusCode.ABORTED,
    )
    missing = await _refused(
        stub.PublishCourse(pb.PublishCourseRequest(course_id=course.course_id), metadata=teacher),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert violated_fields(missing) == ["expected_revision"]
    assert [a for a, _, _ in audit_of(store, course.course_id)] == [
        "education.course.created",
        "education.course.updated",
    ]


async def test_another_instructors_course_is_not_found(channel: grpc.aio.Channel, as_: As) -> None:
    stub = pb_grpc.AuthoringServiceStub(channel)
    course = (
        await stub.CreateCourse(pb.CreateCourseRequest(content=course_content()), metadata=as_("teacher-1"))
    ).course
    other = as_("teacher-2")
    await _refused(
        stub.GetCourseDraft(pb.GetCourseDraftRequest(course_id=course.course_id), metadata=other),
        grpc.StatusCode.NOT_FOUND,
    )
    await _refused(
        stub.UpdateCourse(
            pb.UpdateCourseRequest(course_id=course.course_id, expected_revision=1, content=course_content()),
            metadata=other,
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await _refused(
        stub.PublishCourse(
            pb.PublishCourseRequest(course_id=course.course_id, expected_revision=1), metadata=other
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    assert [
        c.course_id
        for c in (await stub.ListAuthoredCourses(pb.ListAuthoredCoursesRequest(), metadata=other)).courses
    ] == []
    # The admin sees and edits every course; the instructor keeps it.
    listed = await stub.ListAuthoredCourses(pb.ListAuthoredCoursesRequest(), metadata=as_("admin-1"))
    assert [c.course_id for c in listed.courses] == [course.course_id]
    assert not listed.courses[0].content.modules  # a listing carries no content
    await stub.UpdateCourse(
        pb.UpdateCourseRequest(
            course_id=course.course_id,
            expected_revision=1,
            content=course_content(instructor_ids=["teacher-1"]),
        ),
        metadata=as_("admin-1"),
    )
    mine = await stub.ListAuthoredCourses(pb.ListAuthoredCoursesRequest(), metadata=as_("teacher-1"))
    assert [(c.course_id, c.revision) for c in mine.courses] == [(course.course_id, 2)]
