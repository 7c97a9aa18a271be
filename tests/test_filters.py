"""List filters over HTTP: dates, several values, type-specific filters, full text, bad input.

Expected results are worked out from the content files, not written down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import frontmatter
import pytest
from litestar.testing import TestClient

from tests.conftest import CONTENT

Meta = dict[str, Any]


def expected(plural: str, predicate: Callable[[Meta], bool]) -> set[str]:
    """Slugs of the demo entries of ``plural`` whose front matter satisfies ``predicate``."""
    return {
        path.stem
        for path in (CONTENT / plural).glob("*.md")
        if predicate(dict(frontmatter.load(path).metadata))
    }


def slugs(client: TestClient[Any], url: str) -> set[str]:
    """Every slug of a list, following its cursors."""
    found: set[str] = set()
    cursor = None
    while True:
        sep = "&" if "?" in url else "?"
        response = client.get(url + (f"{sep}cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.text
        body = response.json()
        found |= {item["slug"] for item in body["data"]}
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def published(meta: Meta) -> dt.datetime:
    """``published_at`` of a content file."""
    return dt.datetime.fromisoformat(str(meta["published_at"]))


UTC = dt.UTC
CASES = {
    # published_after is inclusive, published_before exclusive.
    "after a date": ("articles", "published_after=2025-11-03",
                     lambda m: published(m) >= dt.datetime(2025, 11, 3, tzinfo=UTC)),
    "after an instant, inclusive": ("articles", "published_after=2025-11-03T16:00:00Z",
                     lambda m: published(m) >= dt.datetime(2025, 11, 3, 16, tzinfo=UTC)),
    "before an instant, exclusive": ("articles", "published_before=2025-11-03T16:00:00Z",
                     lambda m: published(m) < dt.datetime(2025, 11, 3, 16, tzinfo=UTC)),
    "an offset, escaped": ("articles", "published_after=2025-11-03T09:00:00%2B07:00",
                     lambda m: published(m) >= dt.datetime(2025, 11, 3, 2, tzinfo=UTC)),
    "an offset, unescaped": ("articles", "published_after=2025-11-03T09:00:00+07:00",
                     lambda m: published(m) >= dt.datetime(2025, 11, 3, 2, tzinfo=UTC)),
    "a range": ("articles", "published_after=2025-03-01&published_before=2025-07-01",
                lambda m: dt.datetime(2025, 3, 1, tzinfo=UTC) <= published(m)
                < dt.datetime(2025, 7, 1, tzinfo=UTC)),
    "several conditions": ("articles", "condition=sciatica,upper-back-pain",
                           lambda m: bool({"sciatica", "upper-back-pain"}
                                          & set(m.get("conditions", [])))),
    "dates and relations together": ("articles", "clinic=edmonton&published_after=2025-06-01",
                     lambda m: "edmonton" in m["clinics"]
                     and published(m) >= dt.datetime(2025, 6, 1, tzinfo=UTC)),
    "conditions by parent": ("conditions", "parent=sciatica",
                             lambda m: m.get("parent") == "sciatica"),
    "conditions by parents": ("conditions", "parent=sciatica,low-back-pain",
                              lambda m: m.get("parent") in {"sciatica", "low-back-pain"}),
    "practitioners by modality": ("practitioners", "modality=moxibustion",
                                  lambda m: "moxibustion" in m.get("modalities", [])),
    "practitioners by modalities": ("practitioners", "modality=herbal-remedies,ear-magnets",
                                    lambda m: bool({"herbal-remedies", "ear-magnets"}
                                                   & set(m.get("modalities", [])))),
    "conditions by modality": ("conditions", "modality=gua-sha",
                               lambda m: "gua-sha" in m.get("modalities", [])),
    "an unknown parent": ("conditions", "parent=nothing-here", lambda m: False),
    "sorted by newest on a type that sorts by title": (
        "conditions", "sort=-published_at", lambda m: True),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_filters_match_the_content(demo: TestClient[Any], case: str) -> None:
    plural, query, predicate = CASES[case]
    want = expected(plural, predicate)
    assert want or case == "an unknown parent", "a case should select something"
    assert want != expected(plural, lambda m: True) or case.startswith("sorted"), "and not all"
    assert slugs(demo, f"/api/v1/{plural}?limit=2&{query}") == want


def test_full_text_filter_within_a_list(demo: TestClient[Any]) -> None:
    found = slugs(demo, "/api/v1/articles?q=opioid")
    assert "opioids-and-back-pain" in found
    assert found < expected("articles", lambda m: True)
    # Combined with another filter, both must hold.
    assert slugs(demo, "/api/v1/articles?q=opioid&clinic=nowhere") == set()
    # A phrase must appear as written.
    assert slugs(demo, '/api/v1/conditions?q="sciatic nerve"') >= {"sciatica"}
    assert slugs(demo, '/api/v1/conditions?q="nerve sciatic"') == set()


@pytest.mark.parametrize("q", ["!!!", "%22%22", "*", "-", "(", "%E2%80%94"])
def test_a_full_text_filter_of_only_punctuation_lists_nothing(
    demo: TestClient[Any], q: str
) -> None:
    response = demo.get(f"/api/v1/articles?q={q}")
    assert response.status_code == 200
    assert response.json() == {"data": [], "next_cursor": None}


def test_sorting_works_on_every_list(demo: TestClient[Any]) -> None:
    for plural in ("clinics", "practitioners", "conditions", "articles"):
        titles = [i["title"] for i in demo.get(f"/api/v1/{plural}?sort=-title").json()["data"]]
        assert titles == sorted(titles, reverse=True)


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("/api/v1/articles?colour=blue&size=large", ["colour", "size"]),
        ("/api/v1/articles?parent=sciatica", ["parent"]),  # a condition's filter
        ("/api/v1/clinics?modality=cupping", ["modality"]),
        ("/api/v1/articles?published_after=yesterday", ["published_after"]),
        ("/api/v1/articles?published_before=2025-13-01", ["published_before"]),
        ("/api/v1/articles?published_after=2025-03-01T09:00:00", ["published_after"]),
        ("/api/v1/conditions?parent=Not%20A%20Slug", ["parent"]),
        ("/api/v1/practitioners?modality=", ["modality"]),
        (f"/api/v1/articles?q={'x' * 201}", ["q"]),
    ],
)
def test_bad_filters_are_400_problems_naming_them(
    demo: TestClient[Any], url: str, names: list[str]
) -> None:
    response = demo.get(url)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["name"] for e in response.json()["errors"]] == names


def test_type_filters_are_documented_on_their_own_lists(demo: TestClient[Any]) -> None:
    paths = demo.get("/schema/openapi.json").json()["paths"]

    def names(path: str) -> set[str]:
        return {p["name"] for p in paths[path]["get"]["parameters"] if "name" in p}  # not $refs

    assert {"parent", "modality"} <= names("/api/v1/conditions")
    assert "modality" in names("/api/v1/practitioners")
    assert not {"parent", "modality"} & names("/api/v1/articles")
    assert {"published_after", "published_before", "q", "clinic"} <= names("/api/v1/articles")
