"""Grading a quiz attempt, on the server: the learner's answers are checked against the quiz's
answers, which never leave the server before an attempt is graded."""

from __future__ import annotations

import math
from dataclasses import dataclass

from business.education.domain.entities import MULTIPLE, NUMERIC, SINGLE, Question, Quiz
from service_runtime.errors import InvalidArgument


@dataclass(frozen=True)
class Answer:
    question_id: str
    choice_ids: tuple[str, ...] = ()
    number: float = 0.0


@dataclass(frozen=True)
class Grade:
    question: Question
    correct: bool


def _check_answer(question: Question, answer: Answer, field: str) -> None:
    if question.kind == NUMERIC:
        if not math.isfinite(answer.number):
            raise InvalidArgument.field(f"{field}.number", "must be a finite number")
        return
    ids = {c.id for c in question.choices}
    if any(c not in ids for c in answer.choice_ids):
        raise InvalidArgument.field(f"{field}.choice_ids", "must name choices of the question")
    if question.kind == SINGLE and len(answer.choice_ids) > 1:
        raise InvalidArgument.field(f"{field}.choice_ids", "must name one choice (single choice question)")


def _is_correct(question: Question, answer: Answer | None) -> bool:
    if answer is None:
        return False
    if question.kind == NUMERIC:
        return abs(answer.number - question.correct_number) <= question.tolerance + 1e-9
    if question.kind in (SINGLE, MULTIPLE):
        return set(answer.choice_ids) == set(question.correct_choice_ids)
    return False


def grade(quiz: Quiz, answers: list[Answer]) -> tuple[int, list[Grade]]:
    """(score in percent, a grade per question); an unanswered question is wrong. Answers to
    unknown questions, twice to one question or with unknown choices are bad input."""
    questions = {q.id: q for q in quiz.questions}
    given: dict[str, Answer] = {}
    for i, answer in enumerate(answers):
        field = f"answers[{i}]"
        question = questions.get(answer.question_id)
        if question is None:
            raise InvalidArgument.field(f"{field}.question_id", "is not a question of this quiz")
        if answer.question_id in given:
            raise InvalidArgument.field(f"{field}.question_id", "is answered twice")
        _check_answer(question, answer, field)
        given[answer.question_id] = answer
    grades = [Grade(q, _is_correct(q, given.get(q.id))) for q in quiz.questions]
    right = sum(g.correct for g in grades)
    return (right * 100 // len(grades)) if grades else 0, grades
