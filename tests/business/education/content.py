"""A small course to author in tests: two modules, a plain lesson, a lesson with a video and a
lesson with a quiz of each question kind."""

from __future__ import annotations

from trading.education.v1 import education_pb2 as pb

SECRET_EXPLANATION = "Because the close is the last traded price of the bar."


def course_content(
    slug: str = "test-course", tier: int = pb.COURSE_TIER_FREE, **fields: object
) -> pb.CourseContent:
    content = pb.CourseContent(
        title="Testing candles",
        slug=slug,
        summary="A course written by the tests about candles and volatility.",
        level=pb.COURSE_LEVEL_BEGINNER,
        tags=["candles", "testing"],
        tier=tier,
        modules=[
            pb.ModuleContent(
                id="m1",
                title="Basics",
                lessons=[
                    pb.LessonContent(
                        id="l1",
                        title="Candles",
                        body_markdown="# Candles\nOpen, high, low, close.",
                        estimated_minutes=5,
                    ),
                    pb.LessonContent(
                        id="l2",
                        title="Video",
                        body_markdown="Watch it.",
                        estimated_minutes=3,
                        video_url="https://videos.example.com/v.mp4",
                        video_duration_seconds=120,
                    ),
                ],
            ),
            pb.ModuleContent(
                id="m2",
                title="Check",
                lessons=[
                    pb.LessonContent(
                        id="quiz",
                        title="Quiz",
                        estimated_minutes=4,
                        quiz=pb.QuizContent(
                            passing_score_percent=66,
                            max_attempts=2,
                            questions=[
                                pb.QuestionContent(
                                    id="single",
                                    kind=pb.QUESTION_KIND_SINGLE_CHOICE,
                                    prompt="The close is...",
                                    choices=[
                                        pb.Choice(id="a", text="the first price"),
                                        pb.Choice(id="b", text="the last price"),
                                    ],
                                    correct_choice_ids=["b"],
                                    explanation=SECRET_EXPLANATION,
                                ),
                                pb.QuestionContent(
                                    id="multiple",
                                    kind=pb.QUESTION_KIND_MULTIPLE_CHOICE,
                                    prompt="Momentum?",
                                    choices=[
                                        pb.Choice(id="rsi", text="RSI"),
                                        pb.Choice(id="macd", text="MACD"),
                                        pb.Choice(id="atr", text="ATR"),
                                    ],
                                    correct_choice_ids=["rsi", "macd"],
                                    explanation="ATR is size, not direction.",
                                ),
                                pb.QuestionContent(
                                    id="numeric",
                                    kind=pb.QUESTION_KIND_NUMERIC,
                                    prompt="Overbought above?",
                                    correct_number=70.0,
                                    tolerance=0.5,
                                    explanation="Seventy, by convention.",
                                ),
                            ],
                        ),
                    )
                ],
            ),
        ],
    )
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(content, name)[:] = value
        else:
            setattr(content, name, value)
    return content
