"""Who may call what: every route of the app against every kind of caller, over HTTP.

:data:`RULES` is the API's access control in one table: for each route
(method and path, ``{type}`` standing for every content type's plural), who
may call it and how a token limited to some clinics is held to them. The
routes come from the app itself (``app.routes``, the plugins' included; HEAD
and OPTIONS on every path are checked by rules of their own), and a route
without a rule, or a rule without a route, fails
:func:`test_every_route_has_one_rule` naming it.

Each route is then called by each kind of caller (:data:`CALLERS`) on one
database per backend, with real entries in its path:

- anonymous: 401 where a token is needed; on public reads, published content
  only (a draft is a 404, and no draft text appears in any public answer);
- a token whose role is below the rule's: 403; at or above it: anything but
  401 and 403;
- an editor limited to Calgary: an entry it may not read (Edmonton's alone)
  is a 404, as if it did not exist; one it may read but not change (shown on
  Edmonton too, or a clinic) a 403;
- an expired and a revoked token (both admins'): 401 on every route, public
  ones included: an invalid credential is never taken for anonymous.

Changing requests carry a stale ``If-Match``: a caller that is allowed gets
as far as the precondition (412), and nothing changes, so every case can run
on the one database. ``tests/test_permissions.py`` makes the same writes
succeed, with their real ETags, for each role this table allows.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from cms.app import create_app
from cms.settings import Settings
from cms.syndication.webhooks import dispatch
from cms.testing import QUIET, Databases
from tests.conftest import CONTENT, FIRST_PARTY_PLUGINS, TOKENS, ManualClock, load_folder
from tests.conftest import mint_tokens as mint

# --- The table ----------------------------------------------------------------------

ANYONE = "anyone"
"""No token needed. Anonymous callers get published content only; a token's
role and clinics decide what it reads where the route reads working copies."""
LINK = "link"
"""No token needed: the signed link in the path is the credential (preview links)."""
METRICS = "metrics"
"""Its own bearer value: open while ``CMS_METRICS_TOKEN`` is unset (as here), else only
that value, which grants nothing else (tests/test_observability.py); API tokens mean
nothing to it."""
ROLES = ("viewer", "author", "editor", "admin")
"""Least to most: each role may do everything the one before it may."""


class Scope(enum.Enum):
    """How a token limited to some clinics is held to them on a route."""

    NONE = "none: the route shows public content, or concerns no entry"
    LIST = "lists the working copies of entries on its clinics only"
    READ = "reads an entry on one of its clinics; any other is a 404, as if missing"
    CHANGE = (
        "READ, and changes an entry only when every clinic showing it is its own (else 403); "
        "never a clinic (403)"
    )
    CREATE = "creates entries on its own clinics only (else 403), and never a clinic"


@dataclass(frozen=True)
class Rule:
    """Who may call a route."""

    who: str
    """:data:`ANYONE`, :data:`LINK`, or the least role (of :data:`ROLES`) a token needs."""
    scope: Scope = Scope.NONE


RULES: dict[str, Rule] = {
    # Public reads. With a token, the lists and entries answer working copies.
    "GET /": Rule(ANYONE),
    "GET /api/v1": Rule(ANYONE),
    "GET /api/v1/{type}": Rule(ANYONE, Scope.LIST),
    "GET /api/v1/{type}/{slug}": Rule(ANYONE, Scope.READ),
    "GET /api/v1/{type}/{slug}/backlinks": Rule(ANYONE),
    "GET /api/v1/{type}/{slug}/feed.atom": Rule(ANYONE),
    "GET /api/v1/{type}/{slug}/feed.rss": Rule(ANYONE),
    "GET /api/v1/{type}/{slug}/feed.json": Rule(ANYONE),
    "GET /api/v1/search": Rule(ANYONE),
    "GET /api/v1/changes": Rule(ANYONE),  # `state=working` needs a viewer (test_changes.py)
    "GET /api/v1/links/broken": Rule(ANYONE),
    "GET /api/v1/plugins": Rule(ANYONE),
    "GET /api/v1/preview/{token}": Rule(LINK),
    # Probes and the API's documents.
    "GET /health": Rule(ANYONE),
    "GET /ready": Rule(ANYONE),
    "GET /metrics": Rule(METRICS),
    "GET /schema": Rule(ANYONE),
    "GET /schema/openapi.json": Rule(ANYONE),
    "GET /schema/{path}": Rule(ANYONE),
    "GET /schema/assets/{file_path}": Rule(ANYONE),
    # Editing, per content type.
    "POST /api/v1/{type}": Rule("author", Scope.CREATE),
    "PATCH /api/v1/{type}/{slug}": Rule("author", Scope.CHANGE),
    "DELETE /api/v1/{type}/{slug}": Rule("editor", Scope.CHANGE),
    "POST /api/v1/{type}/{slug}/submit": Rule("author", Scope.CHANGE),
    "POST /api/v1/{type}/{slug}/publish": Rule("editor", Scope.CHANGE),
    "POST /api/v1/{type}/{slug}/unpublish": Rule("editor", Scope.CHANGE),
    "POST /api/v1/{type}/{slug}/archive": Rule("editor", Scope.CHANGE),
    "POST /api/v1/{type}/{slug}/preview": Rule("viewer", Scope.READ),
    "GET /api/v1/{type}/{slug}/revisions": Rule("viewer", Scope.READ),
    "GET /api/v1/{type}/{slug}/revisions/{version}": Rule("viewer", Scope.READ),
    "POST /api/v1/{type}/{slug}/revisions/{version}/restore": Rule("author", Scope.CHANGE),
    # Administration.
    "POST /api/v1/tokens": Rule("admin"),
    "GET /api/v1/tokens": Rule("admin"),
    "DELETE /api/v1/tokens/{token_id}": Rule("admin"),
    "POST /api/v1/webhooks": Rule("admin"),
    "GET /api/v1/webhooks": Rule("admin"),
    "GET /api/v1/webhooks/{endpoint_id}": Rule("admin"),
    "DELETE /api/v1/webhooks/{endpoint_id}": Rule("admin"),
    "POST /api/v1/webhooks/{endpoint_id}/enable": Rule("admin"),
    "GET /api/v1/webhooks/{endpoint_id}/deliveries": Rule("admin"),
    "POST /api/v1/webhooks/{endpoint_id}/deliveries/{msg_id}/redeliver": Rule("admin"),
}
"""Every route's rule. HEAD follows its GET's rule; OPTIONS, on every path, is :data:`ANYONE`'s."""


def allows(rule: Rule, role: str) -> bool:
    """Whether a token of ``role``, limited to no clinic, may call a route of ``rule``."""
    return rule.who in (ANYONE, LINK, METRICS) or ROLES.index(role) >= ROLES.index(rule.who)


# --- The routes of the app ----------------------------------------------------------

_PARAM = re.compile(r"\{(?P<name>\w+)(?::\w+)?\}")
GENERIC_METHODS = frozenset({"HEAD", "OPTIONS"})
"""Answered on every path (HEAD on every GET): checked for every path, not ruled per route."""


def plain(path: str) -> str:
    """A route's path without its parameters' types: ``{slug:str}`` -> ``{slug}``."""
    return _PARAM.sub(lambda m: "{" + m["name"] + "}", path)


def served(app: Litestar) -> list[tuple[str, str]]:
    """Every (method, path) the app routes, HEAD and OPTIONS left out, in the app's order."""
    found = {
        (method, route.path): None
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        for method in sorted(handler.http_methods)
        if method not in GENERIC_METHODS
    }
    return list(found)


def type_plurals(app: Litestar) -> list[str]:
    return [t.plural for t in app.state.services.plugins.types]


def rule_pattern(key: str, plurals: Iterable[str]) -> re.Pattern[str]:
    """What a :data:`RULES` key matches: ``{type}`` is any content type's plural."""
    method, path = key.split(" ", 1)
    types = "|".join(re.escape(p) for p in plurals)
    parts = re.split(r"(\{type\})", path)
    body = "".join(f"(?:{types})" if part == "{type}" else re.escape(part) for part in parts)
    return re.compile(f"{re.escape(method)} {body}")


def rules_of(method: str, path: str, plurals: Iterable[str]) -> list[str]:
    """The keys of the rules that match a route."""
    route = f"{method} {plain(path)}"
    return [key for key in RULES if rule_pattern(key, plurals).fullmatch(route)]


@pytest.fixture(name="routes_app", scope="module")
def fixture_routes_app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    """The app as the suite builds it, never started: only its routes are read."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('routes') / 'unused.db'}"
    return create_app(Settings(database_url=url, plugins=FIRST_PARTY_PLUGINS, **QUIET))


def test_every_route_has_one_rule(routes_app: Litestar) -> None:
    plurals = type_plurals(routes_app)
    routes = served(routes_app)
    missing = [f"{m} {plain(p)}" for m, p in routes if not rules_of(m, p, plurals)]
    assert not missing, (
        "Routes without a rule in RULES (tests/test_access_matrix.py); add one saying who "
        "may call each (and how a clinic-limited token is held to its clinics):\n  "
        + "\n  ".join(missing)
    )
    several = {f"{m} {plain(p)}": rules_of(m, p, plurals) for m, p in routes}
    several = {route: keys for route, keys in several.items() if len(keys) > 1}
    assert not several, f"Routes matched by more than one rule: {several}"
    matched = {key for m, p in routes for key in rules_of(m, p, plurals)}
    unused = [key for key in RULES if key not in matched]
    assert not unused, f"Rules in RULES that match no route of the app (remove them): {unused}"


def test_the_openapi_document_says_which_operations_need_a_token(routes_app: Litestar) -> None:
    # The document a client reads agrees with the table: an operation that
    # needs a token requires bearerAuth; a public one does not.
    plurals = type_plurals(routes_app)
    document = routes_app.openapi_schema.to_schema()
    wrong = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method.upper() not in {"GET", "POST", "PATCH", "PUT", "DELETE"}:
                continue
            (key,) = rules_of(method.upper(), path, plurals)
            security = operation.get("security") or [{}]
            optional = {} in security
            if optional != (RULES[key].who in (ANYONE, LINK, METRICS)):
                wrong.append(f"{method.upper()} {path}: security {security}, rule {RULES[key]}")
    assert not wrong, "\n".join(wrong)


# --- The callers and the database they call --------------------------------------------

ANONYMOUS = "anonymous"
LIMITED = "calgary-editor"
"""An editor limited to the clinic ``calgary`` (``tests/conftest.py``'s ``TOKENS``)."""
EXPIRED = "expired admin"
REVOKED = "revoked admin"
CALLERS = (ANONYMOUS, "viewer", "author", "editor", "admin", LIMITED, EXPIRED, REVOKED)
ROLE = {"viewer": "viewer", "author": "author", "editor": "editor", "admin": "admin",
        LIMITED: "editor"}  # fmt: skip
assert TOKENS[LIMITED] == ("editor", ("calgary",))

OWN, OTHER, SHARED, DRAFT, NONE = "own", "other", "shared", "draft", "-"
"""Which entry a route's ``{slug}`` names (see :class:`Entries`); NONE: the route names none."""
DRAFT_MARK = "zqxdraft"
PENDING_MARK = "zqxpending"
"""Words only drafts hold: no public answer may contain them."""
STALE = '"stale"'
LIMIT = 10**6  # expired and revoked tokens fail on every route: no lock-out here


@dataclass(frozen=True)
class Entries:
    """The entries of one type that routes name (slugs)."""

    own: str
    """Published, on Calgary alone, with a draft change pending (``PENDING_MARK``)."""
    other: str
    """Published, on Edmonton alone."""
    shared: str | None
    """Published, on Calgary and Edmonton (None: the type has none, as clinics)."""
    draft: str
    """On Calgary, never published; its slug holds ``DRAFT_MARK``."""

    def slug(self, which: str) -> str | None:
        return {OWN: self.own, OTHER: self.other, SHARED: self.shared, DRAFT: self.draft}[which]


def _copy_entry(source: Path, target: Path, clinic: str, **fields: Any) -> None:
    post = frontmatter.load(source)
    post.metadata.update(clinics=[clinic], origin_clinic=clinic, **fields)
    post.metadata.pop("parts", None)  # a part belongs to one series
    target.write_text(frontmatter.dumps(post, sort_keys=False) + "\n", encoding="utf-8")


def matrix_content(root: Path) -> dict[str, Entries]:
    """The demo content in ``root``, with an own, other and draft entry of every type."""
    shutil.copytree(CONTENT, root)
    entries = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.md"))
        clinics = {f.stem: frontmatter.load(f).metadata.get("clinics") or [] for f in files}
        shared = next((s for s, c in clinics.items() if {"calgary", "edmonton"} <= set(c)), None)
        source = files[0]
        draft = f"{DRAFT_MARK}-{folder.name}"
        _copy_entry(source, folder / f"{draft}.md", "calgary", status="draft", title="Draft")
        if folder.name == "clinics":
            own, other = "calgary", "edmonton"
        else:
            own, other = "matrix-calgary", "matrix-edmonton"
            _copy_entry(source, folder / f"{own}.md", "calgary", title="Calgary's own")
            _copy_entry(source, folder / f"{other}.md", "edmonton", title="Edmonton's own")
        entries[folder.name] = Entries(own=own, other=other, shared=shared, draft=draft)
    return entries


@dataclass
class Matrix:
    """The app on the matrix database, its callers, and the ids routes name."""

    client: TestClient[Any]
    entries: dict[str, Entries]
    headers: dict[str, dict[str, str]]
    """Caller -> its ``Authorization`` header (none for anonymous)."""
    ids: dict[str, str] = field(default_factory=dict)
    """Path parameter -> the value routes get (``token_id``, ``endpoint_id``, ...)."""


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@pytest.fixture(name="matrix", scope="module")
def fixture_matrix(
    databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    """One database per backend for every case: the demo, the :class:`Entries` of every
    type, a token per caller, a webhook with a delivery, a spare token and endpoint to
    delete, and a preview link."""
    root = tmp_path_factory.mktemp("matrix") / "content"
    entries = matrix_content(root)
    url = databases.fresh()
    load_folder(url, root)
    secrets = mint(url)
    clock = ManualClock()
    settings = Settings(
        database_url=url, plugins=FIRST_PARTY_PLUGINS, auth_failure_limit=LIMIT, **QUIET
    )
    with TestClient(create_app(settings, clock=clock)) as client:
        headers = {name: {"Authorization": f"Bearer {secret}"} for name, secret in secrets.items()}
        admin = headers["admin"]
        headers[ANONYMOUS] = {}
        # The expired and revoked tokens work until they expire and are revoked.
        later = (clock.now + dt.timedelta(hours=1)).isoformat()
        for caller, extra in ((EXPIRED, {"expires_at": later}), (REVOKED, {})):
            body = {"name": caller, "role": "admin", **extra}
            made = _ok(client.post("/api/v1/tokens", headers=admin, json=body), 201)
            headers[caller] = {"Authorization": f"Bearer {made['secret']}"}
            _ok(client.get("/api/v1/tokens", headers=headers[caller]))
        clock.advance(2 * 3600)
        _ok(client.delete(f"/api/v1/tokens/{made['id']}", headers=admin), 204)
        spare = _ok(client.post("/api/v1/tokens", headers=admin,
                                json={"name": "spare", "role": "viewer"}), 201)  # fmt: skip
        hook, spare_hook = (
            _ok(client.post("/api/v1/webhooks", headers=admin, json={"url": target}), 201)
            for target in ("https://hooks.example.org/cms", "https://hooks.example.org/spare")
        )
        # A draft change to each own entry: the public keeps the published version.
        for plural, ours in entries.items():
            path = f"/api/v1/{plural}/{ours.own}"
            etag = client.get(path, headers=admin).headers["etag"]
            _ok(client.patch(path, headers={**admin, "If-Match": etag},
                             json={"summary": f"Not yet public: {PENDING_MARK}."}))  # fmt: skip
        # The webhook's messages of those changes, as the worker queues them.
        services = client.app.state.services
        client.blocking_portal.call(dispatch, services.sessions, services.plugins.types)
        deliveries = _ok(client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin))
        link = _ok(client.post(f"/api/v1/articles/{entries['articles'].own}/preview",
                               headers=admin, json={"expires_in": 7 * 24 * 3600}))  # fmt: skip
        yield Matrix(
            client=client,
            entries=entries,
            headers=headers,
            ids={
                "token_id": spare["id"],
                "endpoint_id": hook["id"],
                "spare_endpoint_id": spare_hook["id"],
                "msg_id": deliveries["data"][0]["id"],
                "token": link["token"],
                "file_path": "swagger-ui.css",
                "path": "openapi.yaml",
                "version": "1",
            },
        )


# --- The cases ------------------------------------------------------------------------

QUERIES: Mapping[str, str] = {
    "GET /api/v1/{type}": "?limit=100",
    "GET /api/v1/search": f"?q={DRAFT_MARK}",
    "GET /api/v1/changes": "?limit=1000",
}
"""What a route is asked beside its path: enough that a leaked draft would show."""


def body_of(key: str, caller: str, which: str) -> Any:
    """A valid body for a route that takes one, so that an allowed write can go through."""
    if key == "POST /api/v1/{type}":
        clinic = "calgary" if which == OWN else "edmonton"
        return {"title": f"Matrix {caller} {which}", "clinics": [clinic]}
    return {
        "PATCH /api/v1/{type}/{slug}": {"summary": "Changed by the matrix."},
        "POST /api/v1/tokens": {"name": f"matrix {caller}", "role": "viewer"},
        "POST /api/v1/webhooks": {"url": "https://hooks.example.org/matrix"},
    }.get(key)


def entry_type(path: str, entries: Mapping[str, Entries]) -> str | None:
    """The content type (plural) a route's path is about, if any."""
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[3] in entries else None


def targets(rule: Rule, path: str, caller: str, entries: Entries | None) -> list[str]:
    """Which entries ``caller`` calls a route on (:data:`NONE` when it names none)."""
    names_entry = "{slug" in path
    if entries is None or not (names_entry or rule.scope is Scope.CREATE):
        return [NONE]
    which = [OWN]
    if caller == LIMITED:
        which.append(OTHER)
        if rule.scope is Scope.CHANGE and entries.shared is not None:
            which.append(SHARED)
    if caller == ANONYMOUS and rule.who == ANYONE and names_entry:
        which.append(DRAFT)
    return which


def expected(rule: Rule, plural: str | None, caller: str, which: str) -> int | None:
    """The refusal ``caller`` must get, or None where it is let through."""
    if rule.who == METRICS:
        return None
    if caller in (EXPIRED, REVOKED):
        return 401
    if caller == ANONYMOUS:
        if rule.who not in (ANYONE, LINK):
            return 401
        return 404 if which == DRAFT else None  # published content only
    if not allows(rule, ROLE[caller]):
        return 403
    if caller != LIMITED:
        return None
    if rule.scope in (Scope.READ, Scope.CHANGE) and which == OTHER:
        return 404
    if rule.scope is Scope.CHANGE and (which == SHARED or plural == "clinics"):
        return 403
    if rule.scope is Scope.CREATE and (which == OTHER or plural == "clinics"):
        return 403
    return None


def verdict(response: httpx.Response, rule: Rule, caller: str, refusal: int | None) -> str:
    """What is wrong with ``response`` (empty when nothing is)."""
    status = response.status_code
    if status >= 500:
        return f"{status}: {response.text[:300]}"
    if refusal is None:
        if status in (401, 403):
            return f"{status}, expected to be let through: {response.text[:300]}"
        if rule.scope is Scope.CHANGE and status != 412:
            return f"{status}, expected 412 (let through, stopped by the stale If-Match)"
        if caller == ANONYMOUS and rule.who == ANYONE:
            leaked = [m for m in (DRAFT_MARK, PENDING_MARK) if m in response.text]
            if leaked:
                return f"anonymous answer shows draft content ({', '.join(leaked)})"
        return ""
    if status != refusal:
        return f"{status}, expected {refusal}: {response.text[:300]}"
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"{status} is not a problem: {response.headers.get('content-type')}"
    if status == 401 and "www-authenticate" not in response.headers:
        return "401 without WWW-Authenticate"
    return ""


def fill(matrix: Matrix, method: str, path: str, which: str) -> str:
    """``path`` with real values for its parameters."""
    plural = entry_type(path, matrix.entries)

    def value(match: re.Match[str]) -> str:
        name = match["name"]
        if name == "slug":
            assert plural is not None, path
            slug = matrix.entries[plural].slug(which)
            assert slug is not None, (path, which)
            return slug
        if name == "endpoint_id" and method == "DELETE":
            return matrix.ids["spare_endpoint_id"]  # the webhook the other routes name stays
        return matrix.ids[name]

    return _PARAM.sub(value, path)


@pytest.mark.parametrize("key", list(RULES))
def test_who_may_call(matrix: Matrix, key: str) -> None:
    client, rule = matrix.client, RULES[key]
    routes = [
        (method, path)
        for method, path in served(client.app)
        if rules_of(method, path, matrix.entries) == [key]
    ]
    wrong = []
    for method, path in routes:
        plural = entry_type(path, matrix.entries)
        own_type = None if plural is None else matrix.entries[plural]
        for caller in CALLERS:
            for which in targets(rule, path, caller, own_type):
                url = fill(matrix, method, path, which) + QUERIES.get(key, "")
                headers = dict(matrix.headers[caller])
                if rule.scope is Scope.CHANGE:
                    headers["If-Match"] = STALE
                body = body_of(key, caller, which)
                response = client.request(method, url, headers=headers, json=body)
                refusal = expected(rule, plural, caller, which)
                problem = verdict(response, rule, caller, refusal)
                if problem:
                    wrong.append(f"{method} {url} as {caller}: {problem}")
                if method == "GET":
                    head = client.head(url, headers=headers)
                    if head.status_code != response.status_code:
                        wrong.append(f"HEAD {url} as {caller}: {head.status_code}, its GET "
                                     f"{response.status_code}")  # fmt: skip
                if caller == LIMITED and rule.scope is Scope.LIST and response.is_success:
                    listed = {d["slug"] for d in response.json()["data"]}
                    if own_type and (own_type.own not in listed or own_type.other in listed):
                        wrong.append(f"GET {url} as {caller}: lists {sorted(listed)}")
    assert routes, f"{key} matches no route"
    assert not wrong, f"{len(wrong)} wrong:\n" + "\n".join(wrong)


def test_options_on_every_path(matrix: Matrix) -> None:
    # OPTIONS is answered on every path, to anyone; an invalid token is
    # refused there too.
    paths = list(dict.fromkeys(route.path for route in matrix.client.app.routes))
    wrong = []
    for path in paths:
        url = fill(matrix, "OPTIONS", path, OWN)
        for caller in CALLERS:
            response = matrix.client.options(url, headers=matrix.headers[caller])
            refusal = 401 if caller in (EXPIRED, REVOKED) else None
            problem = verdict(response, Rule(ANYONE), caller, refusal)
            if problem:
                wrong.append(f"OPTIONS {url} as {caller}: {problem}")
            elif refusal is None and "allow" not in response.headers:
                wrong.append(f"OPTIONS {url} as {caller}: {response.status_code} without Allow")
    assert not wrong, f"{len(wrong)} wrong:\n" + "\n".join(wrong)


def test_drafts_are_there_for_a_token(matrix: Matrix) -> None:
    # What anonymous callers must not see is there to be seen with a token:
    # the public answers' check for draft content is not vacuous.
    for plural, ours in matrix.entries.items():
        listed = matrix.client.get(f"/api/v1/{plural}?limit=100", headers=matrix.headers["viewer"])
        assert DRAFT_MARK in listed.text, plural
        assert PENDING_MARK in listed.text, plural
        public = matrix.client.get(f"/api/v1/{plural}/{ours.own}")
        assert public.status_code == 200, public.text
        assert PENDING_MARK not in public.text
