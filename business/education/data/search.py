"""Full-text search over the catalogue, one implementation per dialect, ranked by relevance:

- SQLite (the embedded default): an FTS5 table `course_search` (title, tags, summary, body),
  ranked by bm25 with the title weighted most;
- PostgreSQL: a weighted `tsvector` column `education.catalogue.document` with a GIN index,
  ranked by ts_rank_cd.

The user's words become prefix terms, all required; anything but letters and digits is dropped,
so no query syntax of either engine reaches it from the outside.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from business.education.domain.entities import CourseContent, CourseSearch

WORDS = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 12


def terms(query: str) -> list[str]:
    return WORDS.findall(query.lower())[:MAX_TERMS]


def _filters(query: CourseSearch, params: dict[str, Any], table: str) -> str:
    sql = ""
    if query.level:
        sql += f" AND {table}.level = :level"
        params["level"] = query.level
    if query.tier:
        sql += f" AND {table}.tier = :tier"
        params["tier"] = query.tier
    if query.tag:
        sql += (
            f" AND EXISTS (SELECT 1 FROM {{tags}} t WHERE t.course_id = {table}.course_id AND t.tag = :tag)"
        )
        params["tag"] = query.tag
    return sql


def _document(course_id: str, content: CourseContent) -> dict[str, str]:
    """The weighted parts of a course's search document, by the index's parameter names."""
    return {
        "id": course_id,
        "title": content.title,
        "tags": " ".join(content.tags),
        "summary": content.summary,
        "body": content.search_text(),
    }


class SqliteSearch:
    def __init__(self, session: Session) -> None:
        self.session = session

    def index(self, course_id: str, content: CourseContent) -> None:
        self.remove(course_id)
        self.session.execute(
            text(
                "INSERT INTO course_search (course_id, title, tags, summary, body) "
                "VALUES (:id, :title, :tags, :summary, :body)"
            ),
            _document(course_id, content),
        )

    def remove(self, course_id: str) -> None:
        self.session.execute(text("DELETE FROM course_search WHERE course_id = :id"), {"id": course_id})

    def search(self, query: CourseSearch, *, limit: int, offset: int) -> list[str]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        where = _filters(query, params, "c").replace("{tags}", "catalogue_tags")
        words = terms(query.text)
        if not words:
            sql = (
                f"SELECT c.course_id FROM catalogue c WHERE 1 = 1{where} "
                "ORDER BY c.published_at DESC, c.course_id"
            )
        else:
            params["match"] = " ".join(f'"{w}"*' for w in words)
            # bm25 weights: course_id (unindexed), title, tags, summary, body.
            sql = (
                "SELECT c.course_id FROM course_search s JOIN catalogue c ON c.course_id = s.course_id "
                f"WHERE course_search MATCH :match{where} "
                "ORDER BY bm25(course_search, 0.0, 10.0, 6.0, 4.0, 1.0), c.published_at DESC, c.course_id"
            )
        rows = self.session.execute(text(sql + " LIMIT :limit OFFSET :offset"), params)
        return [row[0] for row in rows]


class PostgresSearch:
    def __init__(self, session: Session) -> None:
        self.session = session

    def index(self, course_id: str, content: CourseContent) -> None:
        self.session.execute(
            text(
                "UPDATE education.catalogue SET document = "
                "setweight(to_tsvector('english', :title), 'A') || "
                "setweight(to_tsvector('english', :tags), 'B') || "
                "setweight(to_tsvector('english', :summary), 'B') || "
                "setweight(to_tsvector('english', :body), 'D') "
                "WHERE course_id = :id"
            ),
            _document(course_id, content),
        )

    def remove(self, course_id: str) -> None:
        """The document goes with its catalogue row."""

    def search(self, query: CourseSearch, *, limit: int, offset: int) -> list[str]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        where = _filters(query, params, "c").replace("{tags}", "education.catalogue_tags")
        words = terms(query.text)
        if not words:
            sql = (
                f"SELECT c.course_id FROM education.catalogue c WHERE TRUE{where} "
                "ORDER BY c.published_at DESC, c.course_id"
            )
        else:
            params["match"] = " & ".join(f"{w}:*" for w in words)
            sql = (
                "SELECT c.course_id FROM education.catalogue c, to_tsquery('english', :match) q "
                f"WHERE c.document @@ q{where} "
                "ORDER BY ts_rank_cd(c.document, q) DESC, c.published_at DESC, c.course_id"
            )
        rows = self.session.execute(text(sql + " LIMIT :limit OFFSET :offset"), params)
        return [row[0] for row in rows]
