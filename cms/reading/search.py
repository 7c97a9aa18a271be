"""Full-text search: the index every write keeps, and ranked queries over it.

SQLite searches with FTS5 (Porter stemming, ``bm25`` ranking, ``snippet``);
PostgreSQL with a weighted ``tsvector`` (English stemming, ``ts_rank``,
``ts_headline``). Both read one query language, parsed here so that no user
input ever reaches either engine's own syntax:

- words match words that start with them, after stemming: ``sciatic`` finds
  "sciatic" and "Sciatica", ``acupunct`` finds "acupuncture";
- ``"quoted phrases"`` match those words in that order, exactly;
- every word and phrase must match (AND);
- anything else (punctuation, operators, an unclosed quote) is ignored, so a
  query of only punctuation finds nothing rather than failing.

The index row of an entry is written by :func:`index_entry` in the
transaction that saves it; SQLite's FTS5 table follows through triggers,
PostgreSQL's ``tsvector`` is a generated column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    or_,
    table,
)
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from cms.contenttypes import ContentType
from cms.reading.cursors import pack, unpack
from cms.schemas import Base
from cms.storage.db import select_columns
from cms.storage.tables import (
    SEARCH_FTS,
    SEARCH_TSV,
    Entry,
    PublishedEntry,
    PublishedRelation,
    SearchDocument,
)

MAX_QUERY_LENGTH = 200
MAX_TERMS = 16

# Snippet highlight markers: private-use characters, stripped from indexed text,
# so that the text around them can be HTML-escaped before they become <mark>.
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARKERS = {ord(_OPEN): None, ord(_CLOSE): None}
SNIPPET_WORDS = 24

# Ranking weights. SQLite: bm25 per column (title, summary, details, body).
# PostgreSQL: ts_rank weights for {D, C, B, A}; the migration gives the title
# A, summary and details B, the body C.
_BM25 = (10.0, 4.0, 4.0, 1.0)
_PG_WEIGHTS = "{0.05, 0.2, 0.4, 1.0}"
_PG_NORMALIZATION = 1  # divide by 1 + log(length): long bodies do not win by size

# The FTS5 table (SQLite only), as much of it as queries name.
_FTS = table(SEARCH_FTS, column("rowid", Integer))
_FTS_NAME: ColumnElement[Any] = literal_column(SEARCH_FTS)

_TOKEN_RE = re.compile(r'"([^"]*)"|([^\W_]+)')
_WORD_RE = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    """One word (matched as a prefix) or one quoted phrase (matched exactly)."""

    words: tuple[str, ...]
    phrase: bool


def parse_query(q: str) -> list[Term]:
    """The terms of ``q``; empty when it has no words."""
    terms: list[Term] = []
    for match in _TOKEN_RE.finditer(q):
        if match.group(1) is not None:
            words = tuple(w.lower() for w in _WORD_RE.findall(match.group(1)))
            if words:
                terms.append(Term(words, phrase=True))
        else:
            terms.append(Term((match.group(2).lower(),), phrase=False))
    return terms[:MAX_TERMS]


def fts5_query(terms: Sequence[Term]) -> str:
    """An FTS5 MATCH expression: each term a quoted string (so never an operator)."""
    # Words hold letters and digits only, so they need no escaping inside quotes.
    return " ".join(f'"{" ".join(t.words)}"' if t.phrase else f'"{t.words[0]}"*' for t in terms)


def tsquery(terms: Sequence[Term]) -> str:
    """A ``to_tsquery`` expression: phrases with ``<->``, words as ``:*`` prefixes."""
    parts = [
        "(" + " <-> ".join(f"'{w}'" for w in t.words) + ")" if t.phrase else f"'{t.words[0]}':*"
        for t in terms
    ]
    return " & ".join(parts)


def tsquery_any(terms: Sequence[Term]) -> str:
    """Every word of ``terms`` joined with ``|``: what PostgreSQL ranks by.

    ``ts_rank`` of an AND query weighs how close the words are to each
    other, which favours a short passage that happens to mention them
    together over the entry that is about them (the sciatica page over a
    page that mentions "the sciatic nerve" once). Ranking by the words
    alone, weighted by where they occur, matches what FTS5's bm25 does.
    """
    return " | ".join(f"'{w}'" if t.phrase else f"'{w}':*" for t in terms for w in t.words)


def dialect_of(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql``: the database the session talks to."""
    bind = session.bind
    assert bind is not None  # sessions come from a sessionmaker bound to the engine
    return bind.dialect.name


# --- Writing -------------------------------------------------------------


def _flatten(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _flatten(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _flatten(v)]
    return []


def _clean(text: str) -> str:
    return text.translate(_MARKERS)


async def index_entry(
    session: AsyncSession, ctype: ContentType, entry: Entry, body_text: str, *, new: bool = False
) -> None:
    """Write ``entry``'s searchable text: title, summary, its type's search fields, body.

    Args:
        new: the entry was just created and has no index row yet.
    """
    await index_text(
        session, ctype, entry.id, status=entry.status, title=entry.title,
        summary=entry.summary, data=entry.data, body_text=body_text, new=new,
    )  # fmt: skip


async def index_text(
    session: AsyncSession,
    ctype: ContentType,
    entry_id: str,
    *,
    status: str,
    title: str,
    summary: str,
    data: Mapping[str, Any],
    body_text: str,
    new: bool = False,
) -> None:
    """Write the searchable text of entry ``entry_id`` from its parts (see :func:`index_entry`)."""
    details = "\n".join(s for name in ctype.search_fields for s in _flatten(data.get(name)))
    values = {
        "type": ctype.name,
        "status": status,
        "title": _clean(title),
        "summary": _clean(summary),
        "details": _clean(details),
        "body": _clean(body_text),
    }
    document = None
    if not new:
        found = await session.exec(
            select(SearchDocument).where(SearchDocument.entry_id == entry_id)
        )
        document = found.first()
    if document is None:
        session.add(
            SearchDocument(
                entry_id=entry_id,
                type=values["type"],
                status=values["status"],
                title=values["title"],
                summary=values["summary"],
                details=values["details"],
                body=values["body"],
            )
        )
        return
    if any(getattr(document, k) != v for k, v in values.items()):
        for key, value in values.items():
            setattr(document, key, value)
        session.add(document)


async def unindex_entry(session: AsyncSession, entry_id: str) -> None:
    """Remove ``entry_id``'s searchable text (its published version was taken down)."""
    await session.exec(delete(SearchDocument).where(col(SearchDocument.entry_id) == entry_id))


# --- Reading -------------------------------------------------------------


def matching_ids(dialect: str, terms: Sequence[Term]) -> SelectOfScalar[str]:
    """A subquery of the ids of entries that match ``terms`` (for the list ``q`` filter)."""
    if dialect == "sqlite":
        rowids: SelectOfScalar[Any] = select(_FTS.c.rowid).where(
            _FTS_NAME.op("MATCH")(bindparam("fts_q", fts5_query(terms)))
        )
        return select(SearchDocument.entry_id).where(col(SearchDocument.id).in_(rowids))
    query = func.to_tsquery("english", bindparam("ts_q", tsquery(terms)))
    return select(SearchDocument.entry_id).where(literal_column(SEARCH_TSV).op("@@")(query))


class SearchHit(Base):
    """One entry that matches a search, best first."""

    id: str
    type: str
    slug: str
    title: str
    summary: str
    canonical_url: str | None
    published_at: dt.datetime | None
    snippet: str
    """Text around the matches, HTML-escaped, matches wrapped in `<mark>`."""


class SearchResults(Base):
    """A page of search hits."""

    data: list[SearchHit]
    next_cursor: str | None = None


@dataclass(frozen=True)
class SearchQuery:
    """What one search asks for, already checked for shape."""

    q: str
    types: Sequence[str] = ()
    clinics: Sequence[str] = ()
    limit: int = 20
    cursor: str | None = None


def _fingerprint(terms: Sequence[Term], query: SearchQuery) -> str:
    key = msgspec.json.encode([[list(t.words) for t in terms], sorted(query.types),
                               sorted(query.clinics)])  # fmt: skip
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def highlight(snippet: str) -> str:
    """Escape a snippet for HTML and turn the engine's markers into ``<mark>``."""
    # Lines of the indexed text (FAQ answers, symptoms) run together in one snippet.
    escaped = html.escape(" ".join(snippet.split()), quote=False)
    return escaped.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


async def search(
    session: AsyncSession, query: SearchQuery, *, published_only: bool = True
) -> tuple[list[SearchHit], str | None]:
    """One page of hits for ``query``, best first, and the cursor of the next page.

    Two queries whatever the page size: the ranked page, then the snippets of
    its hits (highlighting is the costly part, so only the page gets it).

    Raises:
        InvalidParameter: the cursor was issued for another query.
    """
    terms = parse_query(query.q)
    if not terms:
        return [], None
    dialect = dialect_of(session)
    fingerprint = _fingerprint(terms, query)
    after = unpack("cursor", query.cursor, f"search:{fingerprint}", (float, str))

    doc = SearchDocument
    if dialect == "sqlite":
        matched = (
            select(_FTS.c.rowid.label("rid"), func.bm25(_FTS_NAME, *_BM25).label("score"))
            .where(_FTS_NAME.op("MATCH")(bindparam("fts_q", fts5_query(terms))))
            .cte("matched")
        )
        score: ColumnElement[Any] = matched.c.score
        ranked = select_columns(col(doc.entry_id).label("entry_id"), score.label("score"))
        ranked = ranked.join(doc, col(doc.id) == matched.c.rid)
    else:
        ts = func.to_tsquery("english", bindparam("ts_q", tsquery(terms)))
        ts_any = func.to_tsquery("english", bindparam("ts_any", tsquery_any(terms)))
        tsv: ColumnElement[Any] = literal_column(f"search_documents.{SEARCH_TSV}")
        score = -func.ts_rank(literal_column(f"'{_PG_WEIGHTS}'::float4[]"), tsv, ts_any,
                              _PG_NORMALIZATION)  # fmt: skip
        ranked = select_columns(col(doc.entry_id).label("entry_id"), score.label("score"))
        ranked = ranked.where(tsv.op("@@")(ts))

    # Ranking reads the narrow search rows only (type and status are kept
    # there for it); the wide entries rows are read for the page alone.
    clauses: list[ColumnElement[bool]] = []
    if published_only:
        clauses.append(col(doc.status) == "published")
    if query.types:
        clauses.append(col(doc.type).in_(query.types))
    if query.clinics:
        # The published versions' clinics, published clinics only, as on lists.
        clinic_ids = select(PublishedEntry.id).where(
            PublishedEntry.type == "clinic", col(PublishedEntry.slug).in_(query.clinics)
        )
        clauses.append(
            exists().where(
                col(PublishedRelation.source_id) == col(doc.entry_id),
                col(PublishedRelation.field) == "clinics",
                col(PublishedRelation.target_id).in_(clinic_ids),
            )
        )
    if after is not None:
        last_score, last_id = after
        clauses.append(
            or_(score > last_score, and_(score == last_score, col(doc.entry_id) > last_id))
        )
    page_ids = (
        ranked.where(*clauses).order_by(score, col(doc.entry_id)).limit(query.limit + 1)
    ).subquery("page")
    # The hits show the published versions (the search rows hold their text).
    pub = PublishedEntry
    stmt = (
        select_columns(pub.id, pub.type, pub.slug, pub.title, doc.summary,
                       pub.canonical_url, pub.published_at, page_ids.c.score)
        .join(page_ids, col(pub.id) == page_ids.c.entry_id)
        .join(doc, col(doc.entry_id) == col(pub.id))
        .order_by(page_ids.c.score, page_ids.c.entry_id)
    )  # fmt: skip
    rows = list((await session.exec(stmt)).all())
    page, more = rows[: query.limit], len(rows) > query.limit
    snippets = await _snippets(session, dialect, terms, [r[0] for r in page]) if page else {}
    hits = [
        SearchHit(
            id=r[0], type=r[1], slug=r[2], title=r[3], summary=r[4], canonical_url=r[5],
            published_at=r[6], snippet=highlight(snippets.get(r[0], "")),
        )
        for r in page
    ]  # fmt: skip
    cursor = pack(f"search:{fingerprint}", page[-1][7], page[-1][0]) if more else None
    return hits, cursor


async def _snippets(
    session: AsyncSession, dialect: str, terms: Sequence[Term], ids: list[str]
) -> dict[str, str]:
    if dialect == "sqlite":
        snippet = func.snippet(_FTS_NAME, -1, _OPEN, _CLOSE, "…", SNIPPET_WORDS)
        stmt = (
            select(SearchDocument.entry_id, snippet)
            .select_from(_FTS)
            .join(SearchDocument, col(SearchDocument.id) == _FTS.c.rowid)
            .where(_FTS_NAME.op("MATCH")(bindparam("fts_q", fts5_query(terms))))
            .where(col(SearchDocument.entry_id).in_(ids))
        )
    else:
        options = (
            f"StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords={SNIPPET_WORDS}, MinWords=8, "
            'MaxFragments=2, FragmentDelimiter=" … "'
        )
        document = func.concat_ws(
            "\n", SearchDocument.summary, SearchDocument.details, SearchDocument.body
        )
        ts = func.to_tsquery("english", bindparam("ts_q", tsquery(terms)))
        stmt = select(
            SearchDocument.entry_id, func.ts_headline("english", document, ts, options)
        ).where(col(SearchDocument.entry_id).in_(ids))
    return dict((await session.exec(stmt)).all())
