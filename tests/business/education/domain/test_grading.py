"""Quiz grading and content checks, as plain functions."""

from __future__ import annotations

import pytest

from business.education.domain.entities import (
    MULTIPLE,
    NUMERIC,
    SINGLE,
    Choice,
    CourseContent,
    Lesson,
    Module,
    Question,
    Quiz,
)
from business.education.domain.grading import Answer, grade
from business.education.domain.validation import checked_content
from service_runtime.errors import InvalidArgument

QUIZ = Quiz(
    50,
    0,
    (
        Question("s", SINGLE, "?", (Choice("a", "A"), Choice("b", "B")), ("a",)),
        Question("m", MULTIPLE, "?", (Choice("a", "A"), Choice("b", "B"), Choice("c", "C")), ("a", "c")),
        Question("n", NUMERIC, "?", correct_number=1.5, tolerance=0.25),
    ),
)


@pytest.mark.parametrize(
    ("number", "correct"),
    [(1.5, True), (1.25, True), (1.75, True), (1.24, False), (1.76, False), (-1.5, False)],
)
def test_numeric_answers_are_right_within_the_tolerance(number: float, correct: bool) -> None:
    _, grades = grade(QUIZ, [Answer("n", number=number)])
    assert grades[2].correct is correct


def test_multiple_choice_needs_every_correct_choice_and_no_other() -> None:
    assert [g.correct for g in grade(QUIZ, [Answer("m", ("c", "a"))])[1]] == [False, True, False]
    assert [g.correct for g in grade(QUIZ, [Answer("m", ("a",))])[1]] == [False, False, False]
    assert [g.correct for g in grade(QUIZ, [Answer("m", ("a", "b", "c"))])[1]] == [False, False, False]


def test_the_score_counts_unanswered_questions_wrong() -> None:
    assert grade(QUIZ, [])[0] == 0
    assert grade(QUIZ, [Answer("s", ("a",))])[0] == 33
    assert grade(QUIZ, [Answer("s", ("a",)), Answer("m", ("a", "c")), Answer("n", number=1.5)])[0] == 100


def test_non_finite_numbers_are_bad_input() -> None:
    with pytest.raises(InvalidArgument) as bad:
        grade(QUIZ, [Answer("n", number=float("nan"))])
    assert [v.field for v in bad.value.violations] == ["answers[0].number"]


def test_content_gets_ids_and_refuses_duplicates() -> None:
    lesson = Lesson("", "A lesson", estimated_minutes=3)
    content = checked_content(
        CourseContent(title="A course", slug="a-course", modules=(Module("", "One", (lesson, lesson)),))
    )
    ids = [x.id for _, x in content.lessons()]
    assert len(set(ids)) == 2 and all(ids) and content.modules[0].id
    with pytest.raises(InvalidArgument) as duplicate:
        checked_content(
            CourseContent(
                title="A course",
                slug="a-course",
                modules=(Module("m", "One", (Lesson("x", "A"),)), Module("n", "Two", (Lesson("x", "B"),))),
            )
        )
    assert [v.field for v in duplicate.value.violations] == ["content.modules[1].lessons[0].id"]
