"""Every URL field keeps one rule: an absolute http or https URL with a host (issue 15, finding 3).

An outside audit created a practitioner whose ``booking_url`` was
``javascript:alert(document.domain)``: it was served publicly (and a clinic's
in its JSON-LD ``ReserveAction``). Every URL field of every type, core and
plugin, is now typed :data:`cms.schemas.WebUrl` (or ``WebUrlOrEmpty``): a
write holding anything else is a 422 problem naming the field, a content file
holding it is refused naming the file and the field, and webhook endpoints
and the clinics' ``site_url`` keep the same rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from cms import schemas
from cms.schemas import EntryCommon
from tests.conftest import Editing, read_entry_as, run_cms, write_entry

API = "/api/v1"
ATTACK = "javascript:alert(document.domain)"
BAD_URLS = (
    ATTACK,
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "/book",
    "//evil.example/book",
    "https://clinic.example@evil.example/book",
    "https://",
    "https:///book",
    "https://clinic.example/book now",
    "https://clinic.example/\nbook",
    "https://clinic.example/book\n",
    " https://clinic.example/book",
    "tel:+14035550100",
    "mailto:front-desk@clinic.example",
    "https://clinic.example/" + "a" * 2000,
)


# Every URL field of every type (the demo's: the core's and the first-party
# plugins'), with a write body that holds ``url`` there and the field name the
# problem gives. The meta-test below fails when a type gains a URL field that
# is not listed here, so that the new field gets these tests too.
URL_FIELDS: dict[tuple[str, str], Any] = {
    ("clinics", "booking_url"): lambda url: {"booking_url": url},
    ("clinics", "site_url"): lambda url: {"site_url": url},
    ("practitioners", "booking_url"): lambda url: {"booking_url": url},
    ("articles", "hero_image_url"): lambda url: {"hero_image_url": url},
    ("articles", "references[0].url"): lambda url: {"references": [{"title": "A", "url": url}]},
    ("conditions", "references[0].url"): lambda url: {"references": [{"title": "A", "url": url}]},
}


def _url_fields(kind: msgspec.inspect.Type, path: str) -> Iterator[tuple[str, Any]]:
    """(path, string type) of every string field named like a URL under ``kind``."""
    if isinstance(kind, msgspec.inspect.Metadata):  # a description beside the type
        yield from _url_fields(kind.type, path)
    elif isinstance(kind, msgspec.inspect.StructType):
        for field in kind.fields:
            name = f"{path}.{field.name}" if path else field.name
            yield from _url_fields(field.type, name)
    elif isinstance(kind, msgspec.inspect.ListType):
        yield from _url_fields(kind.item_type, f"{path}[0]")
    elif isinstance(kind, msgspec.inspect.UnionType):
        for member in kind.types:
            yield from _url_fields(member, path)
    elif isinstance(kind, msgspec.inspect.StrType) and "url" in path.rsplit(".", 1)[-1].lower():
        yield path, kind


def test_every_url_field_of_every_type_keeps_the_one_rule(demo: TestClient[Any]) -> None:
    types = demo.app.state.services.plugins.types
    assert {t.plural for t in types} >= {"series", "case-stories"}  # the plugins' types too
    found: dict[tuple[str, str], Any] = {}
    assert not list(_url_fields(msgspec.inspect.type_info(EntryCommon), ""))
    for ctype in types:
        for path, kind in _url_fields(msgspec.inspect.type_info(ctype.fields), ""):
            found[(ctype.plural, path)] = kind
    assert set(found) == set(URL_FIELDS)
    for where, kind in found.items():
        assert kind.pattern in (schemas.WEB_URL_PATTERN, schemas.WEB_URL_OR_EMPTY_PATTERN), where


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert [e["name"] for e in errors] == [field], errors
    assert errors[0]["reason"] == schemas.WEB_URL_RULE, errors


def test_a_javascript_booking_url_is_refused(client: TestClient[Any], editing: Editing) -> None:
    """The audit's request, exactly."""
    auth = editing.auth("editor")
    before = client.get(f"{API}/practitioners?limit=100", headers=auth).json()
    body = {"title": "Eve Mallory", "clinics": ["calgary"], "booking_url": ATTACK}
    _refused(client.post(f"{API}/practitioners", json=body, headers=auth), "booking_url")
    assert client.get(f"{API}/practitioners?limit=100", headers=auth).json() == before


@pytest.mark.parametrize("where", sorted(URL_FIELDS), ids="/".join)
def test_every_url_field_refuses_a_javascript_url(
    client: TestClient[Any], editing: Editing, where: tuple[str, str]
) -> None:
    plural, field = where
    auth = editing.auth("editor")
    body = {"title": "Not a link", **URL_FIELDS[where](ATTACK)}
    _refused(client.post(f"{API}/{plural}", json=body, headers=auth), field)
    # A change to an existing entry too (a JSON Merge Patch).
    slug = client.get(f"{API}/{plural}?limit=1").json()["data"][0]["slug"]
    _doc, etag = read_entry_as(client, editing, f"{API}/{plural}/{slug}")
    patched = client.patch(
        f"{API}/{plural}/{slug}",
        json=URL_FIELDS[where](ATTACK),
        headers={**auth, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    _refused(patched, field)
    # The same field takes a web address.
    good = URL_FIELDS[where]("https://calgary.example.com/book?with=lena")
    created = client.post(f"{API}/{plural}", json={"title": "A link", **good}, headers=auth)
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("url", BAD_URLS)
def test_only_absolute_http_urls_with_a_host_are_taken(
    client: TestClient[Any], editing: Editing, url: str
) -> None:
    auth = editing.auth("editor")
    for plural, body in (
        ("practitioners", {"booking_url": url}),
        ("clinics", {"site_url": url}),
    ):
        field = next(iter(body))
        response = client.post(f"{API}/{plural}", json={"title": "X", **body}, headers=auth)
        assert response.status_code == 422, (plural, url, response.text)
        assert [e["name"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    "url",
    [
        "https://calgary.example.com",
        "http://calgary.example.com:8080/book?practitioner=lena&day=mo#slots",
        "https://xn--bcher-kva.example/",
        "https://bücher.example/termine",
        "https://[2001:db8::1]/book",
    ],
)
def test_web_addresses_are_taken_as_they_are(
    client: TestClient[Any], editing: Editing, url: str
) -> None:
    body = {"title": "Booking", "booking_url": url}
    created = client.post(f"{API}/practitioners", json=body, headers=editing.auth("editor"))
    assert created.status_code == 201, created.text
    assert created.json()["booking_url"] == url


def test_a_content_file_with_a_javascript_url_is_refused_naming_file_and_field(
    database_url: str, tmp_path: Path
) -> None:
    path = write_entry(tmp_path, "practitioners", "eve-mallory", title="Eve", booking_url=ATTACK)
    write_entry(tmp_path, "clinics", "banff", title="Banff", site_url="//evil.example")
    result = run_cms(database_url, "content", "load", str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output
    assert f"{path}: booking_url: {schemas.WEB_URL_RULE}" in result.output
    assert f"{tmp_path / 'clinics' / 'banff.md'}: site_url: {schemas.WEB_URL_RULE}" in result.output


@pytest.mark.parametrize("url", [ATTACK, "//evil.example/hooks", "https://a.example@evil.example/"])
def test_webhook_endpoints_keep_the_same_rule(
    client: TestClient[Any], editing: Editing, url: str
) -> None:
    response = client.post(f"{API}/webhooks", json={"url": url}, headers=editing.auth("admin"))
    _refused(response, "url")
