"""AuthoringService: instructors and admins edit courses (the caller is the token's `sub`)."""

from __future__ import annotations

from business.education.domain import authoring
from business.education.domain.context import Education
from business.education.handlers import messages
from business.shared.proto_mapping import Context, client_of
from service_runtime.caller import current_caller
from service_runtime.errors import InvalidArgument
from trading.education.v1 import authoring_service_pb2 as pb
from trading.education.v1 import authoring_service_pb2_grpc as pb_grpc


def _revision(value: int) -> int:
    if value < 1:
        raise InvalidArgument.field("expected_revision", "is required: the revision your change was made on")
    return value


class AuthoringHandlers(pb_grpc.AuthoringServiceServicer):
    def __init__(self, education: Education) -> None:
        self.education = education

    async def CreateCourse(
        self, request: pb.CreateCourseRequest, context: Context
    ) -> pb.CreateCourseResponse:
        course = await authoring.create_course(
            self.education, current_caller(), messages.content_in(request.content), client_of(context)
        )
        return pb.CreateCourseResponse(course=messages.draft(course))

    async def ListAuthoredCourses(
        self, request: pb.ListAuthoredCoursesRequest, context: Context
    ) -> pb.ListAuthoredCoursesResponse:
        page = await authoring.list_authored(
            self.education, current_caller(), request.page_size, request.page_token
        )
        return pb.ListAuthoredCoursesResponse(
            courses=[messages.draft(c, with_modules=False) for c in page.courses],
            next_page_token=page.next_page_token,
        )

    async def GetCourseDraft(
        self, request: pb.GetCourseDraftRequest, context: Context
    ) -> pb.GetCourseDraftResponse:
        course = await authoring.get_draft(self.education, current_caller(), request.course_id)
        return pb.GetCourseDraftResponse(course=messages.draft(course))

    async def UpdateCourse(
        self, request: pb.UpdateCourseRequest, context: Context
    ) -> pb.UpdateCourseResponse:
        course = await authoring.update_course(
            self.education,
            current_caller(),
            request.course_id,
            _revision(request.expected_revision),
            messages.content_in(request.content),
            client_of(context),
        )
        return pb.UpdateCourseResponse(course=messages.draft(course))

    async def PublishCourse(
        self, request: pb.PublishCourseRequest, context: Context
    ) -> pb.PublishCourseResponse:
        course = await authoring.publish_course(
            self.education,
            current_caller(),
            request.course_id,
            _revision(request.expected_revision),
            client_of(context),
        )
        return pb.PublishCourseResponse(course=messages.draft(course))

    async def ArchiveCourse(
        self, request: pb.ArchiveCourseRequest, context: Context
    ) -> pb.ArchiveCourseResponse:
        course = await authoring.archive_course(
            self.education,
            current_caller(),
            request.course_id,
            _revision(request.expected_revision),
            client_of(context),
        )
        return pb.ArchiveCourseResponse(course=messages.draft(course))

    async def ListCourseFigures(
        self, request: pb.ListCourseFiguresRequest, context: Context
    ) -> pb.ListCourseFiguresResponse:
        page = await authoring.course_figures(
            self.education, current_caller(), request.page_size, request.page_token
        )
        return pb.ListCourseFiguresResponse(
            courses=[messages.figures(f) for f in page.figures], next_page_token=page.next_page_token
        )
