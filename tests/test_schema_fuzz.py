"""Schema fuzzing: schemathesis drives the served app from its own OpenAPI document.

Every operation of the document is called over HTTP, on SQLite and on
PostgreSQL, with generated requests, valid and invalid (:data:`EXAMPLES` per
operation and phase, a fixed seed, so a run is repeatable), once anonymously
and once with an admin token, and every response goes through every check
schemathesis has (``--checks all``): no 500, statuses, headers, content types
and bodies as documented, valid requests accepted, invalid ones refused, auth
enforced, missing required headers refused, unsupported methods answered 405.

A valid request can still be refused for what no schema can say; for valid
cases (never invalid ones) :func:`_prepare` supplies it, as a client would:
``If-Match`` names the entry's current ETag, a ``cursor`` is one the server
issued, and a body agrees with the server's state and with itself
(:func:`_valid_body`). Collection needs the document before any server runs,
so the committed one is fuzzed; :func:`test_the_fuzzed_document_is_the_served_one`
holds it to the served one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import itertools
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import CHECKS, is_check_class, load_all_checks
from schemathesis.core.parameters import ParameterLocation

from cms.app import build_services
from cms.contenttypes import Relation, TypeRegistry
from cms.settings import Settings
from tests.conftest import FIRST_PARTY_PLUGINS, REPO, Databases, EditingTemplate
from tests.servers import HTTP_TIMEOUT, QUIET, cms_serve

load_all_checks()
ALL_CHECKS = [check for check in CHECKS.get_all() if not is_check_class(check)]
"""Every check schemathesis has (``--checks all``)."""

EXAMPLES = 5
"""Generated requests per operation in the fuzzing phase (the coverage phase adds
its own deterministic ones: boundaries, missing headers, other methods)."""
CONFIG = {
    "seed": 15,
    # Generating a large body on a busy machine is slow; how slow is not what is tested.
    "suppress-health-check": ["too_slow"],
    # The one required header is If-Match: without it a write is a 428 (RFC 6585),
    # or a 401 when the caller has no token.
    "checks": {"missing_required_header": {"expected-statuses": ["401", "428"]}},
    "generation": {
        "max-examples": EXAMPLES,
        "deterministic": True,
        "database": "none",
        "mode": "all",
        # The document's description: no text holds U+0000 (a 400, tested elsewhere).
        "allow-x00": False,
    },
}

COMMITTED = REPO / "openapi" / "openapi.json"
schema = schemathesis.openapi.from_path(COMMITTED, config=schemathesis.Config.from_dict(CONFIG))


@dataclass(frozen=True)
class Served:
    """The demo with tokens, served; what exists in it, for valid references."""

    base: str
    secrets: dict[str, str]
    document: bytes
    types: TypeRegistry
    slugs: dict[str, list[str]]
    """Published slugs by type name."""


def _registry() -> TypeRegistry:
    services = build_services(
        Settings(database_url="sqlite+aiosqlite://", plugins=FIRST_PARTY_PLUGINS)
    )
    asyncio.run(services.engine.dispose())
    return services.plugins.types


@pytest.fixture(name="served", scope="module")
def fixture_served(
    databases: Databases,
    editing_template: EditingTemplate,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    url = databases.fresh(editing_template.url)
    # The checks send bad tokens on purpose, many times: the failed-authentication
    # limit (tests/test_tokens.py) would answer them 429 instead of 401.
    env = {**os.environ, **QUIET, "CMS_DATABASE_URL": url, "CMS_AUTH_FAILURE_LIMIT": "1000000"}
    types = _registry()
    with cms_serve(env, tmp_path_factory.mktemp("fuzz") / "server.log") as base:
        document = httpx.get(f"{base}/schema/openapi.json", timeout=HTTP_TIMEOUT).content
        slugs = {
            ctype.name: [
                e["slug"]
                for e in httpx.get(
                    f"{base}/api/v1/{ctype.plural}",
                    params={"limit": 100, "fields": "slug"},
                    timeout=HTTP_TIMEOUT,
                ).json()["data"]
            ]
            for ctype in types
        }
        yield Served(base, editing_template.secrets, document, types, slugs)


@pytest.fixture(name="caller", scope="module", params=["anonymous", "admin"])
def fixture_caller(request: pytest.FixtureRequest, served: Served) -> dict[str, str]:
    if request.param == "anonymous":
        return {}
    return {"Authorization": f"Bearer {served.secrets['admin']}"}


_CURSOR = re.compile(r'"next_cursor":"([A-Za-z0-9_-]+)"|[?&;]cursor=([A-Za-z0-9_-]+)')


def _issued_cursor(case: schemathesis.Case, base: str, caller: dict[str, str]) -> str | None:
    """A cursor the server issued for the list ``case`` reads, if it has a second page."""
    query = {k: v for k, v in case.query.items() if k != "cursor"} | {"limit": 1}
    url = f"{base}{case.formatted_path}?{urlencode(query, doseq=True)}"
    response = httpx.get(url, headers=caller, timeout=HTTP_TIMEOUT)
    found = _CURSOR.search(response.text)
    return (found.group(1) or found.group(2)) if found else None


_ENTRY = re.compile(r"^(/api/v1/[a-z-]+/[^/]+)")
_PLURAL = re.compile(r"^/api/v1/([a-z-]+)(?:/\{slug\})?$")


def _current_etag(case: schemathesis.Case, base: str, caller: dict[str, str]) -> str | None:
    """The ETag of the working copy a write targets, as its caller reads it."""
    entry = _ENTRY.match(case.formatted_path)
    if entry is None:
        return None
    response = httpx.get(f"{base}{entry.group(1)}", headers=caller, timeout=HTTP_TIMEOUT)
    return response.headers.get("etag") if response.status_code == 200 else None


_fresh = itertools.count()


def _existing(served: Served, value: Any, targets: tuple[str, ...], typed: bool) -> Any:
    """``value`` (a slug, or ``type/slug`` when ``typed``) as one that exists."""
    pool = [(t, s) for t in targets for s in served.slugs.get(t, [])]
    if not pool:
        return value
    type_name, slug = pool[zlib.crc32(str(value).encode()) % len(pool)]
    return f"{type_name}/{slug}" if typed else slug


_IP_LITERAL = re.compile(r"^(https?://)\[([^\]]*)\]")


def _valid_ip_literal(value: str) -> str:
    """``value`` with a valid IPv6 address where it is a URL whose host is a bracketed
    literal: the generator of `format: uri` makes some that RFC 3986 does not allow
    (``https://[:6df7]/``)."""
    literal = _IP_LITERAL.match(value)
    if literal is None:
        return value
    try:
        ipaddress.IPv6Address(literal.group(2))
    except ValueError:
        return f"{literal.group(1)}[::1]{value[literal.end() :]}"
    return value


def _valid_body(body: dict[str, Any], served: Served, plural: str | None) -> None:
    """References to entries that exist, a slug no entry has, `origin_clinic` among
    `clinics`, no clinics for an admin token: rules of the server's state, or
    between fields, that a schema cannot state."""
    ctype = served.types.by_plural(plural) if plural else None
    relations = dict(ctype.all_relations()) if ctype else {}
    if ctype is None and "clinics" in body:  # a token's or a webhook's
        relations = {"clinics": Relation(target="clinic", many=True)}
    for name, rel in relations.items():
        value = body.get(name)
        if rel.has_part and isinstance(value, list):
            body[name] = []  # a part belongs to one series: which are free, only the server knows
        elif rel.many and isinstance(value, list):
            picked = [_existing(served, v, rel.targets, rel.typed) for v in value]
            body[name] = list(dict.fromkeys(picked))
        elif isinstance(value, str):
            body[name] = _existing(served, value, rel.targets, rel.typed)
    for name, value in body.items():
        if isinstance(value, str):
            body[name] = _valid_ip_literal(value)
    if ctype is not None and isinstance(body.get("slug"), str):
        body["slug"] = f"fuzzed-{next(_fresh)}"
    if isinstance(body.get("origin_clinic"), str) and body["origin_clinic"] not in (
        body.get("clinics") or []
    ):
        body["origin_clinic"] = None
    if body.get("role") == "admin":
        body["clinics"] = []
    if isinstance(body.get("expires_at"), str):  # a token's: in the future
        body["expires_at"] = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()


def _prepare(case: schemathesis.Case, served: Served, caller: dict[str, str]) -> None:
    """Make a valid case valid beyond what a schema can say: the entry's current
    ETag in ``If-Match``, a cursor the server issued, a body that agrees with
    the server's state (:func:`_valid_body`)."""
    base = served.base
    meta = case.meta
    if meta is None:
        return
    if (
        case.headers
        and "If-Match" in case.headers
        and not meta.is_negative_at(ParameterLocation.HEADER)
    ):
        etag = _current_etag(case, base, caller)
        if etag is not None:
            case.headers["If-Match"] = etag
    if isinstance(case.body, dict) and not meta.is_negative_at(ParameterLocation.BODY):
        plural = _PLURAL.match(case.operation.path)
        _valid_body(case.body, served, plural.group(1) if plural else None)
    if meta.is_negative_at(ParameterLocation.QUERY):
        return
    if case.query and "cursor" in case.query:
        cursor = _issued_cursor(case, base, caller)
        if cursor is None:
            del case.query["cursor"]
        else:
            case.query["cursor"] = cursor


@schema.parametrize()
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, served: Served, caller: dict[str, str]
) -> None:
    _prepare(case, served, caller)
    case.call_and_validate(base_url=served.base, headers=caller, checks=ALL_CHECKS)


def test_the_fuzzed_document_is_the_served_one(served: Served) -> None:
    assert json.loads(served.document) == json.loads(COMMITTED.read_text())


STEPS = 6
"""Calls per stateful scenario."""
SCENARIOS = 12
"""Stateful scenarios per run."""
Chained = schema.as_state_machine()


def test_operations_chained_by_their_links_answer_as_documented(served: Served) -> None:
    """Stateful: schemathesis chains operations by the links it infers from the document
    (a create's answer to the entry's read, patch, workflow steps, revisions and delete;
    a read to the writes on the same entry), as an admin, with every check, including
    the stateful ones (a deleted entry is gone, a created one can be read)."""
    admin = {"Authorization": f"Bearer {served.secrets['admin']}"}
    created: set[str] = set()
    followed: set[str] = set()

    class Workflow(Chained):  # type: ignore[misc, valid-type]
        def before_call(self, case: schemathesis.Case) -> None:
            _prepare(case, served, admin)
            if case.path_parameters and "slug" in case.path_parameters:
                followed.add(str(case.path_parameters["slug"]))

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            if response.status_code == 201 and case.method == "POST":
                slug = response.json().get("slug")
                if isinstance(slug, str):
                    created.add(slug)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": served.base, "headers": admin}

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:  # fmt: skip
            case.validate_response(
                response,
                checks=ALL_CHECKS,
                headers=admin,
                transport_kwargs=kwargs,
                recorder=getattr(self, "recorder", None),
            )

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
    # The scenarios did chain: entries they created were then called by their slug.
    assert created & followed, (sorted(created), sorted(followed))
