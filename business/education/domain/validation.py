"""An author's content, checked and normalised before it is stored: every problem names its field
(`content.modules[0].lessons[2].quiz.questions[1].correct_choice_ids`), missing ids are generated,
duplicates refused."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import replace

from business.education.domain.entities import (
    BLOCK_KINDS,
    CHART,
    FORECAST,
    LEVELS,
    MULTIPLE,
    NUMERIC,
    QUESTION_KINDS,
    SINGLE,
    TIERS,
    TRY_IT,
    Choice,
    CourseContent,
    Lesson,
    LessonBlock,
    Module,
    Question,
    Quiz,
)
from service_runtime.errors import FieldViolation, InvalidArgument

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,78})[a-z0-9]$")
TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
ITEM_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_MODULES, MAX_LESSONS, MAX_QUESTIONS, MAX_CHOICES = 50, 100, 50, 10
MAX_BODY = 100_000
MAX_BLOCKS, MAX_INDICATORS, MAX_PARAMS = 10, 5, 20
SYMBOL = re.compile(r"^[A-Za-z0-9._^=-]{1,20}$")
TIMEFRAME = re.compile(r"^[0-9]{1,3}[a-zA-Z]{1,3}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$")
PARAM = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")


class _Checks:
    """Collects every violation, so an author sees all of them at once."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def fail(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def text(self, field: str, value: str, *, least: int, most: int) -> str:
        value = value.strip()
        if len(value) < least:
            self.fail(field, "is required" if least == 1 else f"must be at least {least} characters")
        elif len(value) > most:
            self.fail(field, f"must be at most {most} characters")
        return value

    def url(self, field: str, value: str) -> str:
        value = value.strip()
        if value and (
            not value.startswith("https://") or len(value) > 500 or any(c.isspace() for c in value)
        ):
            self.fail(field, "must be an https:// URL of at most 500 characters")
        return value

    def number(self, field: str, value: int, least: int, most: int) -> None:
        if not least <= value <= most:
            self.fail(field, f"must be between {least} and {most}")

    def ids(self, field: str, values: list[str], make: Callable[[], str]) -> list[str]:
        """The items' ids, generated where empty; a malformed or repeated id is refused."""
        seen: set[str] = set()
        out = []
        for i, value in enumerate(values):
            value = value or make()
            if not ITEM_ID.match(value):
                self.fail(f"{field}[{i}].id", "must be 1 to 40 letters, digits, - or _")
            elif value in seen:
                self.fail(f"{field}[{i}].id", "is used twice")
            seen.add(value)
            out.append(value)
        return out


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _question(c: _Checks, f: str, q: Question) -> Question:
    prompt = c.text(f"{f}.prompt", q.prompt, least=1, most=2000)
    explanation = c.text(f"{f}.explanation", q.explanation, least=0, most=2000)
    if q.kind not in QUESTION_KINDS:
        c.fail(f"{f}.kind", "must be single choice, multiple choice or numeric")
        return q
    if q.kind == NUMERIC:
        if not math.isfinite(q.correct_number):
            c.fail(f"{f}.correct_number", "must be a finite number")
        if not math.isfinite(q.tolerance) or q.tolerance < 0:
            c.fail(f"{f}.tolerance", "must be a finite number, 0 or more")
        return replace(q, prompt=prompt, explanation=explanation, choices=(), correct_choice_ids=())
    if not 2 <= len(q.choices) <= MAX_CHOICES:
        c.fail(f"{f}.choices", f"must hold 2 to {MAX_CHOICES} choices")
    # Choices without an id are named a, b, c... by their place.
    ids = c.ids(f"{f}.choices", [x.id or chr(ord("a") + i) for i, x in enumerate(q.choices)], _new_id)
    choices = tuple(
        Choice(ids[i], c.text(f"{f}.choices[{i}].text", x.text, least=1, most=500))
        for i, x in enumerate(q.choices)
    )
    correct = tuple(dict.fromkeys(q.correct_choice_ids))
    if any(x not in {ch.id for ch in choices} for x in correct):
        c.fail(f"{f}.correct_choice_ids", "must name choices of this question")
    elif q.kind == SINGLE and len(correct) != 1:
        c.fail(f"{f}.correct_choice_ids", "must name exactly one choice")
    elif q.kind == MULTIPLE and not correct:
        c.fail(f"{f}.correct_choice_ids", "must name at least one choice")
    return replace(
        q, prompt=prompt, explanation=explanation, choices=choices, correct_choice_ids=correct, tolerance=0.0
    )


def _quiz(c: _Checks, f: str, quiz: Quiz) -> Quiz:
    c.number(f"{f}.passing_score_percent", quiz.passing_score_percent, 1, 100)
    c.number(f"{f}.max_attempts", quiz.max_attempts, 0, 100)
    if not 1 <= len(quiz.questions) <= MAX_QUESTIONS:
        c.fail(f"{f}.questions", f"must hold 1 to {MAX_QUESTIONS} questions")
    ids = c.ids(f"{f}.questions", [q.id for q in quiz.questions], _new_id)
    questions = tuple(
        _question(c, f"{f}.questions[{i}]", replace(q, id=ids[i])) for i, q in enumerate(quiz.questions)
    )
    return replace(quiz, questions=questions)


def _chart(c: _Checks, f: str, block: LessonBlock) -> LessonBlock:
    if len(block.indicators) > MAX_INDICATORS:
        c.fail(f"{f}.indicators", f"must hold at most {MAX_INDICATORS} indicators")
    for i, spec in enumerate(block.indicators):
        if not 1 <= len(spec.strip()) <= 60:
            c.fail(f"{f}.indicators[{i}]", "must be an indicator such as rsi:14")
    return replace(block, indicators=tuple(x.strip().lower() for x in block.indicators))


def _try_it(c: _Checks, f: str, block: LessonBlock) -> LessonBlock:
    if not block.strategy.strip():
        c.fail(f"{f}.strategy", "is required: a strategy BacktestService lists")
    if len(block.params) > MAX_PARAMS:
        c.fail(f"{f}.params", f"must hold at most {MAX_PARAMS} parameters")
    for name, value in block.params.items():
        if not PARAM.match(name) or not math.isfinite(value):
            c.fail(f"{f}.params[{name}]", "must be a parameter name with a finite value")
    if not (math.isfinite(block.commission) and 0 <= block.commission <= 0.1):
        c.fail(f"{f}.commission", "must be between 0 and 0.1")
    return replace(
        block, strategy=block.strategy.strip(), editable_params=tuple(dict.fromkeys(block.editable_params))
    )


def _forecast(c: _Checks, f: str, block: LessonBlock) -> LessonBlock:
    if block.window_end is None:
        c.fail(f"{f}.window_end", "is required: the open time of the last bar the learner sees")
    window = block.window_bars or 60
    c.number(f"{f}.window_bars", window, 10, 500)
    c.number(f"{f}.horizon_bars", block.horizon_bars, 1, 50)
    return replace(block, window_bars=window)


def _block(c: _Checks, f: str, block: LessonBlock) -> LessonBlock:
    """The block's own shape; whether its symbol, indicators and strategy exist is checked against
    the ML engine (domain/live_blocks.py)."""
    if block.kind not in BLOCK_KINDS:
        c.fail(f"{f}.kind", "must be a chart, signal, try-it or forecast block")
        return block
    caption = c.text(f"{f}.caption", block.caption, least=0, most=300)
    symbol = block.symbol.strip().upper()
    if not SYMBOL.match(symbol):
        c.fail(f"{f}.symbol", "is required: a symbol such as EURUSD")
    timeframe = block.timeframe.strip().lower()
    if not TIMEFRAME.match(timeframe):
        c.fail(f"{f}.timeframe", "is required: a timeframe such as 1h or 1d")
    for name in ("start", "end"):
        value = getattr(block, name).strip()
        if value and not DATE.match(value):
            named = f"{name}_date" if block.kind == TRY_IT else name
            c.fail(f"{f}.{named}", "must be a YYYY-MM-DD date or an RFC 3339 time")
    out = replace(block, caption=caption, symbol=symbol, timeframe=timeframe)
    if block.kind == CHART:
        out = _chart(c, f, out)
    elif block.kind == TRY_IT:
        out = _try_it(c, f, out)
    elif block.kind == FORECAST:
        out = _forecast(c, f, out)
    return out


def _blocks(c: _Checks, f: str, blocks: tuple[LessonBlock, ...]) -> tuple[LessonBlock, ...]:
    if len(blocks) > MAX_BLOCKS:
        c.fail(f"{f}.blocks", f"must hold at most {MAX_BLOCKS} blocks")
    ids = c.ids(f"{f}.blocks", [b.id for b in blocks], _new_id)
    return tuple(_block(c, f"{f}.blocks[{i}]", replace(b, id=ids[i])) for i, b in enumerate(blocks))


def _lesson(c: _Checks, f: str, lesson: Lesson) -> Lesson:
    title = c.text(f"{f}.title", lesson.title, least=1, most=200)
    if len(lesson.body_markdown) > MAX_BODY:
        c.fail(f"{f}.body_markdown", f"must be at most {MAX_BODY} characters")
    video = c.url(f"{f}.video_url", lesson.video_url)
    if video:
        c.number(f"{f}.video_duration_seconds", lesson.video_duration_seconds, 1, 86_400)
    elif lesson.video_duration_seconds:
        c.fail(f"{f}.video_duration_seconds", "needs a video_url")
    c.number(f"{f}.estimated_minutes", lesson.estimated_minutes, 1, 600)
    quiz = _quiz(c, f"{f}.quiz", lesson.quiz) if lesson.quiz is not None else None
    blocks = _blocks(c, f, lesson.blocks)
    return replace(lesson, title=title, video_url=video, quiz=quiz, blocks=blocks)


def _modules(c: _Checks, modules: tuple[Module, ...]) -> tuple[Module, ...]:
    if len(modules) > MAX_MODULES:
        c.fail("content.modules", f"must hold at most {MAX_MODULES} modules")
    module_ids = c.ids("content.modules", [m.id for m in modules], _new_id)
    lesson_ids: set[str] = set()
    out = []
    for i, module in enumerate(modules):
        f = f"content.modules[{i}]"
        title = c.text(f"{f}.title", module.title, least=1, most=200)
        if len(module.lessons) > MAX_LESSONS:
            c.fail(f"{f}.lessons", f"must hold at most {MAX_LESSONS} lessons")
        ids = c.ids(f"{f}.lessons", [x.id for x in module.lessons], _new_id)
        lessons = []
        for j, lesson in enumerate(module.lessons):
            if ids[j] in lesson_ids:
                c.fail(f"{f}.lessons[{j}].id", "is used by another lesson of the course")
            lesson_ids.add(ids[j])
            lessons.append(_lesson(c, f"{f}.lessons[{j}]", replace(lesson, id=ids[j])))
        out.append(Module(module_ids[i], title, tuple(lessons)))
    return tuple(out)


def checked_content(content: CourseContent) -> CourseContent:
    """The content, normalised; InvalidArgument naming every bad field otherwise."""
    c = _Checks()
    title = c.text("content.title", content.title, least=3, most=200)
    slug = content.slug.strip()
    if not SLUG.match(slug):
        c.fail("content.slug", "must be 3 to 80 lower-case letters, digits and dashes")
    summary = c.text("content.summary", content.summary, least=0, most=1000)
    if content.level not in LEVELS:
        c.fail("content.level", "must be beginner, intermediate or advanced")
    if content.tier not in TIERS:
        c.fail("content.tier", "must be free or pro")
    tags = tuple(dict.fromkeys(t.strip().lower() for t in content.tags))
    if len(tags) > 10:
        c.fail("content.tags", "must hold at most 10 tags")
    for i, tag in enumerate(tags):
        if not TAG.match(tag):
            c.fail(f"content.tags[{i}]", "must be lower-case letters, digits and dashes (at most 32)")
    if len(content.instructor_ids) > 10:
        c.fail("content.instructor_ids", "must hold at most 10 instructors")
    cover = c.url("content.cover_image_url", content.cover_image_url)
    modules = _modules(c, content.modules)
    if c.violations:
        raise InvalidArgument(*c.violations)
    return replace(
        content,
        title=title,
        slug=slug,
        summary=summary,
        tags=tags,
        instructor_ids=tuple(dict.fromkeys(i.strip() for i in content.instructor_ids if i.strip())),
        cover_image_url=cover,
        modules=modules,
    )
