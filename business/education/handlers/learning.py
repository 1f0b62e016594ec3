"""LearningService and CertificateService: a learner's own enrolments, lessons, quizzes, progress
and certificates (the learner is the token's `sub`), and the public verification of a certificate."""

from __future__ import annotations

from business.education.domain import forecasting, learning
from business.education.domain.context import Education
from business.education.handlers import messages
from business.shared.proto_mapping import Context, client_of
from service_runtime.caller import current_caller
from trading.education.v1 import certificate_service_pb2 as cert_pb
from trading.education.v1 import certificate_service_pb2_grpc as cert_grpc
from trading.education.v1 import learning_service_pb2 as pb
from trading.education.v1 import learning_service_pb2_grpc as pb_grpc


class LearningHandlers(pb_grpc.LearningServiceServicer):
    def __init__(self, education: Education) -> None:
        self.education = education

    async def EnrollCourse(
        self, request: pb.EnrollCourseRequest, context: Context
    ) -> pb.EnrollCourseResponse:
        progress = await learning.enroll(
            self.education, current_caller(), request.course_id, client_of(context)
        )
        return pb.EnrollCourseResponse(progress=messages.progress(progress))

    async def EnrollProCourse(
        self, request: pb.EnrollProCourseRequest, context: Context
    ) -> pb.EnrollProCourseResponse:
        progress = await learning.enroll(
            self.education, current_caller(), request.course_id, client_of(context)
        )
        return pb.EnrollProCourseResponse(progress=messages.progress(progress))

    async def ListEnrollments(
        self, request: pb.ListEnrollmentsRequest, context: Context
    ) -> pb.ListEnrollmentsResponse:
        items, token = await learning.list_enrollments(
            self.education, current_caller(), request.page_size, request.page_token
        )
        return pb.ListEnrollmentsResponse(
            enrollments=[
                pb.Enrollment(course=messages.card(p.course), progress=messages.progress(p)) for p in items
            ],
            next_page_token=token,
        )

    async def GetProgress(self, request: pb.GetProgressRequest, context: Context) -> pb.GetProgressResponse:
        progress = await learning.get_progress(self.education, current_caller(), request.course_id)
        return pb.GetProgressResponse(progress=messages.progress(progress))

    async def GetLesson(self, request: pb.GetLessonRequest, context: Context) -> pb.GetLessonResponse:
        view = await learning.open_lesson(
            self.education, current_caller(), request.course_id, request.lesson_id
        )
        return pb.GetLessonResponse(lesson=messages.lesson(view))

    async def CompleteLesson(
        self, request: pb.CompleteLessonRequest, context: Context
    ) -> pb.CompleteLessonResponse:
        done = await learning.complete_lesson(
            self.education, current_caller(), request.course_id, request.lesson_id, client_of(context)
        )
        return pb.CompleteLessonResponse(
            progress=messages.progress(done.progress),
            certificate=messages.certificate(done.certificate) if done.certificate else None,
        )

    async def SubmitQuiz(self, request: pb.SubmitQuizRequest, context: Context) -> pb.SubmitQuizResponse:
        result = await learning.submit_quiz(
            self.education,
            current_caller(),
            request.course_id,
            request.lesson_id,
            messages.answers_in(request),
            client_of(context),
        )
        return messages.quiz_result(result)

    async def SubmitForecast(
        self, request: pb.SubmitForecastRequest, context: Context
    ) -> pb.SubmitForecastResponse:
        scored = await forecasting.submit_forecast(
            self.education,
            current_caller(),
            request.course_id,
            request.lesson_id,
            request.block_id,
            messages.DIRECTION_FROM_PB.get(request.direction, ""),
            client_of(context),
        )
        return pb.SubmitForecastResponse(
            result=messages.forecast_result(scored.answer), progress=messages.progress(scored.progress)
        )


class CertificateHandlers(cert_grpc.CertificateServiceServicer):
    def __init__(self, education: Education) -> None:
        self.education = education

    async def ListCertificates(
        self, request: cert_pb.ListCertificatesRequest, context: Context
    ) -> cert_pb.ListCertificatesResponse:
        certificates = await learning.my_certificates(self.education, current_caller())
        return cert_pb.ListCertificatesResponse(certificates=[messages.certificate(c) for c in certificates])

    async def VerifyCertificate(
        self, request: cert_pb.VerifyCertificateRequest, context: Context
    ) -> cert_pb.VerifyCertificateResponse:
        certificate = await learning.verify_certificate(self.education, request.code)
        # Name, course and date: nothing else about the learner.
        return cert_pb.VerifyCertificateResponse(
            learner_name=certificate.learner_name,
            course_title=certificate.course_title,
            issued_at=messages.to_timestamp(certificate.issued_at),
        )
