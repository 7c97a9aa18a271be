"""A typed client of this CMS's HTTP API: :class:`Client` (sync) and :class:`AsyncClient`.

.. code-block:: python

    from cms.client import Client, PreconditionFailed

    with Client("https://cms.example.org", token=os.environ["CMS_TOKEN"]) as cms:
        for entry in cms.iter_entries("articles", clinic="calgary", limit=100):
            print(entry.slug, entry.title)
        article = cms.get("articles", "low-back-pain")
        try:
            article = cms.patch(article, {"summary": "Shorter."})  # If-Match: article.etag
        except PreconditionFailed as stale:
            print("changed meanwhile; now at version", stale.current.version)
        cms.publish(article)

Both clients share one core (:class:`_Core`) that builds every request and
reads every answer; they differ only in how a request is sent, so their
behaviour cannot drift apart. What they read are msgspec Structs that ignore
fields they do not know (unlike the server's own schemas, which forbid
them): a newer server's additions never break an older client.

- Every change (``patch``, ``delete`` and the workflow steps) sends
  ``If-Match`` with the ETag of the entry as it was read: an :class:`Entry`
  from :meth:`Client.get`, :meth:`Client.create` or an earlier change.
- Every error answer is raised as an :class:`ApiError` carrying the RFC 9457
  problem (status, title, detail and field errors); a 412 is a
  :class:`PreconditionFailed` carrying the entry as it is now and its ETag,
  a 404 or 410 a :class:`NotFound`.
- ``iter_entries`` follows ``next_cursor`` and ``iter_changes`` follows
  ``next_since`` until the end.

It imports nothing of the server: only httpx, msgspec and the API's path
(:data:`cms.urls.API`, a module that imports nothing), which it shares with
the server's routes so that the two cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import msgspec

from cms.urls import API

TIMEOUT = 30.0
"""Seconds a request may take, by default."""
MERGE_PATCH = "application/merge-patch+json"

T = TypeVar("T")
ParamValue = str | int | bool | dt.datetime | Sequence[str] | None
"""A query parameter: a sequence is sent comma-separated, a datetime in ISO 8601."""


# --- What the client reads ---------------------------------------------------------


class Struct(msgspec.Struct, kw_only=True):
    """Base of what the client reads: unknown fields are ignored, so newer servers work."""


class FieldProblem(Struct):
    """One invalid parameter, header or body field of a problem."""

    name: str = ""
    """The parameter, header or field (a dotted path for nested fields: ``seo.title``)."""
    reason: str = ""
    location: str = ""
    """``query``, ``path``, ``header`` or ``body``."""


class Problem(Struct):
    """An RFC 9457 problem details object, as every error answer of the API carries."""

    title: str = ""
    status: int = 0
    type: str = "about:blank"
    """A URN naming the kind of problem, e.g. ``urn:clinic-cms:problem:invalid-entry``."""
    detail: str = ""
    instance: str = ""
    errors: list[FieldProblem] = []


class Entry(Struct):
    """An entry of any type: the fields every entry has, typed; the rest in :attr:`document`.

    A sparse read (``fields=title``) leaves the fields it did not ask for at
    their defaults. The last three attributes are the client's, not the
    server's.
    """

    id: str = ""
    type: str = ""
    """The type's name (``article``); :attr:`collection` is its plural, as in URLs."""
    slug: str = ""
    title: str = ""
    summary: str = ""
    status: str = ""
    version: int = 0
    clinics: list[str | dict[str, Any]] = []
    """Clinic slugs (the clinic objects with ``include=clinics``)."""
    origin_clinic: str | None = None
    tags: list[str] = []
    canonical_url: str | None = None
    published_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    published_version: int | None = None
    """Working copies only: the version the public reads, None if none."""
    scheduled_at: dt.datetime | None = None
    """Working copies only: when a scheduled publication is due."""
    body: str | None = None
    """The Markdown body (details only)."""
    body_html: str | None = None
    collection: str = ""
    """The plural the entry was read from (``articles``): where its changes go."""
    etag: str = ""
    """The ETag of the answer it came from; empty for list items, which have none of their own."""
    document: dict[str, Any] = {}
    """The entry exactly as the server sent it, every field (the type's own, relations)."""

    def __getitem__(self, name: str) -> Any:
        """A field of :attr:`document`: ``clinic["city"]``, ``article["author"]["slug"]``."""
        return self.document[name]


class Page(Struct):
    """One page of a list; pass :attr:`next_cursor` back as ``cursor`` for the next."""

    data: list[Entry]
    next_cursor: str | None = None


class Revision(Struct):
    """One saved version of an entry, with the entry as it was saved (its write side)."""

    version: int
    created_at: dt.datetime | None = None
    action: str | None = None
    actor: str | None = None
    actor_name: str | None = None
    changed_fields: list[str] = []
    status: str | None = None
    entry: dict[str, Any] = {}
    """The write-side document: relations as slugs, the body as Markdown."""


class Change(Struct):
    """One change of the change feed."""

    seq: int
    event: str
    """``upsert`` or ``delete`` (for a clinic, when the feed is read for one)."""
    type: str
    id: str
    slug: str
    action: str = ""
    state: str = ""
    version: int | None = None
    clinics: list[str] = []
    left_clinics: list[str] = []
    at: dt.datetime | None = None


class ChangePage(Struct):
    """One page of the change feed, oldest first."""

    data: list[Change]
    next_since: int
    """Pass it back as ``since`` to read on."""
    last_seq: int
    """The newest change when the page was read: the feed's end when ``next_since`` reaches it."""


# --- What the client raises ----------------------------------------------------------


class ClientError(Exception):
    """Anything that keeps a request from giving its answer."""


class InvalidBaseURL(ClientError, ValueError):
    """The base URL is not an http(s) URL with a host."""


class TransportError(ClientError):
    """The server could not be reached, or the connection failed or timed out."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason


class UnexpectedResponse(ClientError):
    """A success answer that is not what this CMS answers (another server at that URL?)."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(message)
        self.url = url


class Moved(ClientError):
    """A redirect not followed (``follow_redirects=False``): an old slug of a renamed entry."""

    def __init__(self, url: str, status: int, location: str) -> None:
        super().__init__(f"{url} moved ({status}) to {location}")
        self.url = url
        self.status = status
        self.location = location


class ApiError(ClientError):
    """An error answer: its RFC 9457 problem, with the field errors it names."""

    def __init__(self, url: str, problem: Problem, method: str = "GET") -> None:
        self.url = url
        self.method = method
        self.problem = problem
        super().__init__(self._message())

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def title(self) -> str:
        return self.problem.title

    @property
    def detail(self) -> str:
        return self.problem.detail

    @property
    def errors(self) -> list[FieldProblem]:
        return self.problem.errors

    def _message(self) -> str:
        text = f"{self.method} {self.url}: {self.status} {self.title}"
        if self.detail and self.detail != self.title:
            text += f": {self.detail}"
        fields = "; ".join(f"{e.name}: {e.reason}" for e in self.errors if e.name)
        return f"{text} ({fields})" if fields else text


class NotFound(ApiError):
    """404 or 410: no such entry (or the token may not read it), or no longer."""


class PreconditionFailed(ApiError):
    """412: the entry changed since it was read. :attr:`current` is what it is now."""

    def __init__(
        self, url: str, problem: Problem, method: str, current: Entry, current_etag: str
    ) -> None:
        super().__init__(url, problem, method)
        self.current = current
        """The entry as it is now, with its ETag: change it and send again."""
        self.current_etag = current_etag

    @property
    def current_version(self) -> int:
        return self.current.version


# --- The core both clients share ----------------------------------------------------


def base_url(url: str) -> str:
    """An instance's base URL as the client keeps it: no trailing slash, no ``/api/v1``.

    Raises:
        InvalidBaseURL: not an http(s) URL with a host.
    """
    base = url.strip().rstrip("/")
    if base.endswith(API):
        base = base[: -len(API)].rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidBaseURL(f"{url!r} is not an http(s) URL of a CMS instance")
    return base


def _param(value: ParamValue) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    return ",".join(value)


def _segment(value: str) -> str:
    """A path segment: a slug or plural can never reach another route."""
    return quote(value, safe="")


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One request to make and how to read its answer."""

    method: str
    path: str
    """Under the API base: ``/articles/low-back-pain``."""
    read: Callable[[httpx.Response], T]
    params: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    media_type: str = "application/json"
    if_match: str | None = None
    follow_redirects: bool = False
    collection: str = ""
    """The entries' plural, to read an entry from a 412."""


class _Core:
    """Building requests and reading answers: everything but sending them."""

    def __init__(self, base: str, token: str | None) -> None:
        self.base = base_url(base)
        self.token = token

    def prepare(self, call: _Call[Any]) -> tuple[str, dict[str, Any]]:
        """The URL and keyword arguments of ``httpx.Client.request`` for ``call``."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if call.body is not None:
            headers["Content-Type"] = call.media_type
        if call.if_match is not None:
            headers["If-Match"] = call.if_match
        args: dict[str, Any] = {
            "headers": headers,
            "follow_redirects": call.follow_redirects,
        }
        if call.params:
            args["params"] = call.params
        if call.body is not None:
            args["content"] = call.body
        return f"{self.base}{API}{call.path}", args

    @staticmethod
    def transport_error(url: str, exc: Exception) -> TransportError:
        return TransportError(url, str(exc) or type(exc).__name__)

    def answer(self, call: _Call[T], response: httpx.Response) -> T:
        """What ``call``'s answer says, or the error it is.

        Raises:
            ApiError: an error answer (NotFound, PreconditionFailed).
            Moved: a redirect that was not followed.
            UnexpectedResponse: a success answer that is not this API's.
        """
        if response.is_success:
            return call.read(response)
        url = str(response.request.url)
        if response.is_redirect:
            location = response.headers.get("location", "")
            raise Moved(url, response.status_code, location)
        raw = _problem_body(response)
        try:
            problem = msgspec.convert(raw, Problem) if raw is not None else None
        except msgspec.ValidationError:
            problem = None
        if problem is None:  # not a problem document: a proxy's error page, say
            problem = Problem(title=response.reason_phrase, status=response.status_code)
        if response.status_code in (404, 410):
            raise NotFound(url, problem, call.method)
        if response.status_code == 412:
            current = raw.get("current") if isinstance(raw, dict) else None
            etag = raw.get("current_etag") if isinstance(raw, dict) else None
            etag = etag if isinstance(etag, str) else response.headers.get("etag", "")
            if not isinstance(current, dict):
                raise UnexpectedResponse(url, f"{url} answered 412 without the entry as it is now")
            entry = _entry(current, url, call.collection, etag)
            raise PreconditionFailed(url, problem, call.method, entry, etag)
        raise ApiError(url, problem, call.method)

    # The calls ------------------------------------------------------------------

    def get(self, collection: str, slug: str, *, follow_redirects: bool = True) -> _Call[Entry]:
        return _Call(
            "GET",
            f"/{_segment(collection)}/{_segment(slug)}",
            _entry_reader(collection),
            follow_redirects=follow_redirects,
            collection=collection,
        )

    def revision(self, collection: str, slug: str, version: int) -> _Call[Revision]:
        path = f"/{_segment(collection)}/{_segment(slug)}/revisions/{int(version)}"
        return _Call("GET", path, _struct_reader(Revision, "a revision"))

    def list_page(
        self, collection: str, params: Mapping[str, ParamValue], cursor: str | None
    ) -> _Call[Page]:
        query = _query({**params, "cursor": cursor})
        return _Call("GET", f"/{_segment(collection)}", _page_reader(collection), params=query)

    def create(self, collection: str, fields: Mapping[str, Any]) -> _Call[Entry]:
        return _Call(
            "POST",
            f"/{_segment(collection)}",
            _entry_reader(collection),
            body=msgspec.json.encode(fields),
            collection=collection,
        )

    def change(
        self,
        method: str,
        entry: Entry,
        read: Callable[[httpx.Response], T],
        suffix: str = "",
        *,
        body: bytes | None = None,
        media_type: str = "application/json",
        force: bool = False,
    ) -> _Call[T]:
        """A change to ``entry`` (``suffix``: a workflow step), with its ETag as ``If-Match``."""
        if not entry.etag or not entry.collection or not entry.slug:
            raise ValueError(
                "a change needs the entry as get(), create() or a change answered it "
                "(with its ETag); a list item has none"
            )
        return _Call(
            method,
            f"/{_segment(entry.collection)}/{_segment(entry.slug)}{suffix}",
            read,
            params=_query({"force": force or None}),
            body=body,
            media_type=media_type,
            if_match=entry.etag,
            collection=entry.collection,
        )

    def step(self, entry: Entry, action: str, *, force: bool = False) -> _Call[Entry]:
        """A workflow step without a body: ``submit``, ``unpublish``, ``archive``."""
        read = _entry_reader(entry.collection)
        return self.change("POST", entry, read, f"/{action}", force=force)

    def patch(self, entry: Entry, changes: Mapping[str, Any]) -> _Call[Entry]:
        body = msgspec.json.encode(changes)
        read = _entry_reader(entry.collection)
        return self.change("PATCH", entry, read, body=body, media_type=MERGE_PATCH)

    def delete(self, entry: Entry, *, force: bool) -> _Call[None]:
        return self.change("DELETE", entry, _nothing, force=force)

    def publish(self, entry: Entry, at: dt.datetime | None, *, force: bool) -> _Call[Entry]:
        body = msgspec.json.encode({"at": at}) if at is not None else None
        read = _entry_reader(entry.collection)
        return self.change("POST", entry, read, "/publish", body=body, force=force)

    def changes_page(
        self,
        since: int,
        *,
        clinic: str | None,
        types: str | Sequence[str] | None,
        state: str | None,
        limit: int | None,
    ) -> _Call[ChangePage]:
        params = {"since": since, "clinic": clinic, "type": types, "state": state, "limit": limit}
        return _Call("GET", "/changes", _struct_reader(ChangePage, "a change feed"),
                     params=_query(params))  # fmt: skip


def _query(params: Mapping[str, ParamValue]) -> dict[str, str]:
    """Query parameters as sent: None leaves a parameter out."""
    return {k: v for k, v in ((k, _param(v)) for k, v in params.items()) if v is not None}


def _problem_body(response: httpx.Response) -> Any:
    media = response.headers.get("content-type", "").split(";")[0].strip()
    if not media.endswith("json"):
        return None
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return None


def _json(response: httpx.Response) -> Any:
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError as exc:
        url = response.request.url
        raise UnexpectedResponse(
            str(url), f"{url} did not answer JSON: is it a CMS instance?"
        ) from exc


def _entry(raw: Any, url: str, collection: str, etag: str) -> Entry:
    if not isinstance(raw, dict):
        raise UnexpectedResponse(url, f"{url} is not an entry of this CMS")
    try:
        entry = msgspec.convert(raw, Entry)
    except msgspec.ValidationError as exc:
        raise UnexpectedResponse(url, f"{url} is not an entry of this CMS: {exc}") from exc
    return msgspec.structs.replace(entry, collection=collection, etag=etag, document=raw)


def _entry_reader(collection: str) -> Callable[[httpx.Response], Entry]:
    def read(response: httpx.Response) -> Entry:
        url = str(response.request.url)
        return _entry(_json(response), url, collection, response.headers.get("etag", ""))

    return read


def _page_reader(collection: str) -> Callable[[httpx.Response], Page]:
    def read(response: httpx.Response) -> Page:
        url = str(response.request.url)
        raw = _json(response)
        data = raw.get("data") if isinstance(raw, dict) else None
        cursor = raw.get("next_cursor") if isinstance(raw, dict) else None
        if not isinstance(data, list) or not isinstance(cursor, str | None):
            raise UnexpectedResponse(url, f"{url} is not a list of this CMS")
        return Page(data=[_entry(item, url, collection, "") for item in data], next_cursor=cursor)

    return read


S = TypeVar("S", bound=msgspec.Struct)


def _struct_reader(kind: type[S], what: str) -> Callable[[httpx.Response], S]:
    def read(response: httpx.Response) -> S:
        raw = _json(response)
        try:
            return msgspec.convert(raw, kind)
        except msgspec.ValidationError as exc:
            url = response.request.url
            raise UnexpectedResponse(str(url), f"{url} is not {what} of this CMS: {exc}") from exc

    return read


def _nothing(_response: httpx.Response) -> None:
    return None


def _list_params(
    params: Mapping[str, ParamValue] | None, limit: int | None, filters: Mapping[str, ParamValue]
) -> dict[str, ParamValue]:
    return {**(params or {}), **filters, **({"limit": limit} if limit is not None else {})}


# --- The clients --------------------------------------------------------------------


class Client:
    """The API of one instance, over a blocking ``httpx.Client``.

    Args:
        base: the instance's base URL (``https://cms.example.org``; a trailing
            ``/api/v1`` is allowed).
        token: sent as ``Authorization: Bearer`` with every request: a token
            reads working copies (drafts), without one the published versions.
        http: an ``httpx.Client`` to send with (it stays open after :meth:`close`).
        timeout: seconds per request, for the client made when ``http`` is None.

    Raises:
        InvalidBaseURL: ``base`` is not an http(s) URL.
    """

    def __init__(
        self,
        base: str,
        token: str | None = None,
        *,
        http: httpx.Client | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self._core = _Core(base, token)
        self._owned = http is None
        self._http = http or httpx.Client(timeout=timeout)

    @property
    def base(self) -> str:
        """The instance's base URL."""
        return self._core.base

    def anonymous(self) -> Client:
        """The same instance read without the token (as the public reads it), same connections."""
        return Client(self._core.base, http=self._http)

    def close(self) -> None:
        """Close the connections, unless the ``httpx.Client`` was given."""
        if self._owned:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self, call: _Call[T]) -> T:
        url, args = self._core.prepare(call)
        try:
            response = self._http.request(call.method, url, **args)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._core.transport_error(url, exc) from exc
        return self._core.answer(call, response)

    def get(self, collection: str, slug: str, *, follow_redirects: bool = True) -> Entry:
        """The entry ``collection/slug`` (``articles``, ``low-back-pain``), with its ETag.

        Args:
            follow_redirects: follow an old slug to the entry's new one; when
                False, an old slug raises :class:`Moved`.
        """
        return self._send(self._core.get(collection, slug, follow_redirects=follow_redirects))

    def get_revision(self, collection: str, slug: str, version: int) -> Revision:
        """Version ``version`` of ``collection/slug`` as it was saved (a token reading drafts)."""
        return self._send(self._core.revision(collection, slug, version))

    def list_page(
        self,
        collection: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        **filters: ParamValue,
    ) -> Page:
        """One page of a list: ``list_page("articles", clinic="calgary", sort="title")``.

        Args:
            params: parameters that are no Python names (``{"fields[practitioner]": ...}``).
            cursor: a page's :attr:`Page.next_cursor`, for the page after it.
            limit: entries per page (1 to 100).
        """
        query = _list_params(params, limit, filters)
        return self._send(self._core.list_page(collection, query, cursor))

    def iter_entries(
        self,
        collection: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        limit: int | None = None,
        **filters: ParamValue,
    ) -> Iterator[Entry]:
        """Every entry of a list, page after page (``limit`` each), following ``next_cursor``."""
        query = _list_params(params, limit, filters)
        cursor: str | None = None
        while True:
            page = self._send(self._core.list_page(collection, query, cursor))
            yield from page.data
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def create(self, collection: str, fields: Mapping[str, Any]) -> Entry:
        """Create a draft from ``fields`` (relations as slugs); the working copy, with its ETag."""
        return self._send(self._core.create(collection, fields))

    def patch(self, entry: Entry, changes: Mapping[str, Any]) -> Entry:
        """Apply a JSON Merge Patch to ``entry`` with ``If-Match: entry.etag``; the new version.

        Raises:
            PreconditionFailed: the entry changed since ``entry`` was read.
        """
        return self._send(self._core.patch(entry, changes))

    def delete(self, entry: Entry, *, force: bool = False) -> None:
        """Delete ``entry`` (``If-Match: entry.etag``); ``force``: even if pages link to it."""
        self._send(self._core.delete(entry, force=force))

    def submit(self, entry: Entry) -> Entry:
        """Submit a draft for review (``If-Match: entry.etag``)."""
        return self._send(self._core.step(entry, "submit"))

    def publish(self, entry: Entry, *, at: dt.datetime | None = None, force: bool = False) -> Entry:
        """Publish ``entry`` now, or schedule it ``at`` a future time (``If-Match: entry.etag``)."""
        return self._send(self._core.publish(entry, at, force=force))

    def unpublish(self, entry: Entry, *, force: bool = False) -> Entry:
        """Take the published version down; the entry becomes a draft."""
        return self._send(self._core.step(entry, "unpublish", force=force))

    def archive(self, entry: Entry, *, force: bool = False) -> Entry:
        """Archive ``entry``: off the public API, kept with its history."""
        return self._send(self._core.step(entry, "archive", force=force))

    def changes_page(
        self,
        since: int = 0,
        *,
        clinic: str | None = None,
        types: str | Sequence[str] | None = None,
        state: str | None = None,
        limit: int | None = None,
    ) -> ChangePage:
        """One page of the change feed after ``since``."""
        call = self._core.changes_page(since, clinic=clinic, types=types, state=state, limit=limit)
        return self._send(call)

    def iter_changes(
        self,
        since: int = 0,
        *,
        clinic: str | None = None,
        types: str | Sequence[str] | None = None,
        state: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Change]:
        """Every change after ``since``, page after page (following ``next_since``) to the end."""
        while True:
            page = self.changes_page(since, clinic=clinic, types=types, state=state, limit=limit)
            yield from page.data
            if page.next_since >= page.last_seq or page.next_since <= since:
                return
            since = page.next_since


class AsyncClient:
    """The API of one instance, over an ``httpx.AsyncClient``: :class:`Client`, awaited.

    Every method is :class:`Client`'s, as a coroutine (the iterators are async
    iterators); see there.
    """

    def __init__(
        self,
        base: str,
        token: str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self._core = _Core(base, token)
        self._owned = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)

    @property
    def base(self) -> str:
        """The instance's base URL."""
        return self._core.base

    def anonymous(self) -> AsyncClient:
        """The same instance read without the token (as the public reads it), same connections."""
        return AsyncClient(self._core.base, http=self._http)

    async def aclose(self) -> None:
        """Close the connections, unless the ``httpx.AsyncClient`` was given."""
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _send(self, call: _Call[T]) -> T:
        url, args = self._core.prepare(call)
        try:
            response = await self._http.request(call.method, url, **args)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._core.transport_error(url, exc) from exc
        return self._core.answer(call, response)

    async def get(self, collection: str, slug: str, *, follow_redirects: bool = True) -> Entry:
        """See :meth:`Client.get`."""
        return await self._send(self._core.get(collection, slug, follow_redirects=follow_redirects))

    async def get_revision(self, collection: str, slug: str, version: int) -> Revision:
        """See :meth:`Client.get_revision`."""
        return await self._send(self._core.revision(collection, slug, version))

    async def list_page(
        self,
        collection: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        **filters: ParamValue,
    ) -> Page:
        """See :meth:`Client.list_page`."""
        query = _list_params(params, limit, filters)
        return await self._send(self._core.list_page(collection, query, cursor))

    async def iter_entries(
        self,
        collection: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        limit: int | None = None,
        **filters: ParamValue,
    ) -> AsyncIterator[Entry]:
        """See :meth:`Client.iter_entries`."""
        query = _list_params(params, limit, filters)
        cursor: str | None = None
        while True:
            page = await self._send(self._core.list_page(collection, query, cursor))
            for entry in page.data:
                yield entry
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def create(self, collection: str, fields: Mapping[str, Any]) -> Entry:
        """See :meth:`Client.create`."""
        return await self._send(self._core.create(collection, fields))

    async def patch(self, entry: Entry, changes: Mapping[str, Any]) -> Entry:
        """See :meth:`Client.patch`."""
        return await self._send(self._core.patch(entry, changes))

    async def delete(self, entry: Entry, *, force: bool = False) -> None:
        """See :meth:`Client.delete`."""
        await self._send(self._core.delete(entry, force=force))

    async def submit(self, entry: Entry) -> Entry:
        """See :meth:`Client.submit`."""
        return await self._send(self._core.step(entry, "submit"))

    async def publish(
        self, entry: Entry, *, at: dt.datetime | None = None, force: bool = False
    ) -> Entry:
        """See :meth:`Client.publish`."""
        return await self._send(self._core.publish(entry, at, force=force))

    async def unpublish(self, entry: Entry, *, force: bool = False) -> Entry:
        """See :meth:`Client.unpublish`."""
        call = self._core.step(entry, "unpublish", force=force)
        return await self._send(call)

    async def archive(self, entry: Entry, *, force: bool = False) -> Entry:
        """See :meth:`Client.archive`."""
        call = self._core.step(entry, "archive", force=force)
        return await self._send(call)

    async def changes_page(
        self,
        since: int = 0,
        *,
        clinic: str | None = None,
        types: str | Sequence[str] | None = None,
        state: str | None = None,
        limit: int | None = None,
    ) -> ChangePage:
        """See :meth:`Client.changes_page`."""
        call = self._core.changes_page(since, clinic=clinic, types=types, state=state, limit=limit)
        return await self._send(call)

    async def iter_changes(
        self,
        since: int = 0,
        *,
        clinic: str | None = None,
        types: str | Sequence[str] | None = None,
        state: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Change]:
        """See :meth:`Client.iter_changes`."""
        while True:
            page = await self.changes_page(
                since, clinic=clinic, types=types, state=state, limit=limit
            )
            for change in page.data:
                yield change
            if page.next_since >= page.last_seq or page.next_since <= since:
                return
            since = page.next_since
