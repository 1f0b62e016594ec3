"""CatalogService: the public catalogue (no token needed)."""

from __future__ import annotations

from business.education.domain import catalog
from business.education.domain.context import Education
from business.education.domain.entities import CourseSearch
from business.education.handlers import messages
from business.shared.proto_mapping import Context
from service_runtime.errors import InvalidArgument
from trading.education.v1 import catalog_service_pb2 as pb
from trading.education.v1 import catalog_service_pb2_grpc as pb_grpc
from trading.education.v1 import education_pb2


class CatalogHandlers(pb_grpc.CatalogServiceServicer):
    def __init__(self, education: Education) -> None:
        self.education = education

    async def SearchCourses(
        self, request: pb.SearchCoursesRequest, context: Context
    ) -> pb.SearchCoursesResponse:
        if request.level not in (education_pb2.COURSE_LEVEL_UNSPECIFIED, *messages.LEVEL_FROM_PB):
            raise InvalidArgument.field("level", "is not a known level")
        if request.tier not in (education_pb2.COURSE_TIER_UNSPECIFIED, *messages.TIER_FROM_PB):
            raise InvalidArgument.field("tier", "is not a known tier")
        search = CourseSearch(
            text=request.query,
            level=messages.LEVEL_FROM_PB.get(request.level, ""),
            tag=request.tag,
            tier=messages.TIER_FROM_PB.get(request.tier, ""),
        )
        page = await catalog.search_courses(self.education, search, request.page_size, request.page_token)
        return pb.SearchCoursesResponse(
            courses=[messages.card(c) for c in page.courses], next_page_token=page.next_page_token
        )

    async def GetCourse(self, request: pb.GetCourseRequest, context: Context) -> pb.GetCourseResponse:
        course = await catalog.get_course(self.education, request.course)
        return pb.GetCourseResponse(course=messages.course(course))
