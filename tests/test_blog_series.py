"""The blog_series plugin: series, their outline, and the navigation of their parts.

Navigation is computed when a series or a part is saved and stored; these
tests change the content files and load them again with `cms content load`,
then read over HTTP what every part now says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import frontmatter
import pytest
from click.testing import CliRunner, Result
from litestar.testing import TestClient

from cms.app import create_app
from cms.cli import main
from cms.settings import Settings
from tests.conftest import CONTENT, counting

STORIES = "patient-stories"
ONE, TWO, THREE = (
    "back-pain-after-a-car-accident",
    "a-marathon-runner-with-back-pain",
    "back-pain-that-flares-with-stress",
)


def cms(url: str, *args: str, **env: str) -> Result:
    """Run the `cms` command with ``url`` as its database and the installed plugins."""
    return CliRunner().invoke(main, list(args), env={"CMS_DATABASE_URL": url, **env})


def edit(folder: Path, plural: str, slug: str, **meta: Any) -> None:
    """Change front-matter fields of one content file (None removes a field)."""
    path = folder / plural / f"{slug}.md"
    post = frontmatter.load(path)
    for key, value in meta.items():
        if value is None:
            post.metadata.pop(key, None)
        else:
            post.metadata[key] = value
    path.write_text(frontmatter.dumps(post, sort_keys=False) + "\n", encoding="utf-8")


def load(url: str, folder: Path) -> None:
    result = cms(url, "content", "load", str(folder))
    assert result.exit_code == 0, result.output


def ref(slug: str, title: str, type_: str = "case-story") -> dict[str, str]:
    return {"type": type_, "slug": slug, "title": title}


@pytest.fixture(name="site")
def fixture_site(database_url: str, content_copy: Path) -> Iterator[tuple[TestClient[Any], Path]]:
    """The demo loaded from a copy the test may edit and load again."""
    load(database_url, content_copy)
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        yield client, content_copy


def navigation(client: TestClient[Any], slug: str, plural: str = "case-stories") -> Any:
    response = client.get(f"/api/v1/{plural}/{slug}")
    assert response.status_code == 200, response.text
    return response.json()["series"]


def titles(client: TestClient[Any]) -> dict[str, str]:
    items = client.get("/api/v1/case-stories?limit=100").json()["data"]
    return {i["slug"]: i["title"] for i in items}


# --- The demo -------------------------------------------------------------------


def test_series_are_listed(demo: TestClient[Any]) -> None:
    listed = demo.get("/api/v1/series").json()["data"]
    assert {s["slug"] for s in listed} == {p.stem for p in (CONTENT / "series").glob("*.md")}
    assert demo.get("/api/v1/series?clinic=edmonton").json()["data"]


def test_a_series_lists_its_parts_in_order(demo: TestClient[Any]) -> None:
    series = demo.get(f"/api/v1/series/{STORIES}").json()
    assert [p["slug"] for p in series["parts"]] == [ONE, TWO, THREE]
    assert all(p["type"] == "case-story" for p in series["parts"])
    assert [(o["part"], o["status"], o["slug"]) for o in series["outline"]] == [
        (1, "published", ONE), (2, "published", TWO), (3, "published", THREE),
    ]  # fmt: skip
    # Issue 5's JSON-LD: the series node lists its published parts as hasPart,
    # and each part names the series as isPartOf.
    node = series["json_ld"]["@graph"][0]
    assert node["@type"] == "CreativeWorkSeries"
    assert [p["name"] for p in node["hasPart"]] == [p["title"] for p in series["parts"]]
    part = demo.get(f"/api/v1/case-stories/{ONE}").json()["json_ld"]["@graph"][0]
    assert [s["@id"] for s in part["isPartOf"]] == [node["@id"]]


def test_planned_parts_are_shown_as_planned(demo: TestClient[Any]) -> None:
    series = demo.get("/api/v1/series/back-pain-and-medicines").json()
    assert [(o["part"], o["status"], o["slug"]) for o in series["outline"]] == [
        (1, "published", "anti-inflammatory-drugs-and-back-pain-healing"),
        (2, "published", "opioids-and-back-pain"),
        (3, "planned", None),
    ]
    planned = series["outline"][2]
    assert (
        planned["title"] == series["planned_parts"][0]["title"] == "Muscle relaxants and back pain"
    )
    assert planned["release"] == "2027-01-18"
    # The last written part counts the planned one, and has nothing after it yet.
    nav = navigation(demo, "opioids-and-back-pain", "articles")
    assert (nav["part"], nav["total"], nav["next"]) == (2, 3, None)
    assert nav["previous"]["slug"] == "anti-inflammatory-drugs-and-back-pain-healing"


def test_every_part_carries_its_navigation(demo: TestClient[Any]) -> None:
    names = titles(demo)
    series = demo.get(f"/api/v1/series/{STORIES}").json()
    expected = {
        ONE: (1, None, ref(TWO, names[TWO])),
        TWO: (2, ref(ONE, names[ONE]), ref(THREE, names[THREE])),
        THREE: (3, ref(TWO, names[TWO]), None),
    }
    for slug, (part, previous, following) in expected.items():
        assert navigation(demo, slug) == {
            "slug": STORIES, "title": series["title"], "part": part, "total": 3,
            "previous": previous, "next": following,
        }  # fmt: skip


def test_lists_carry_navigation_at_no_cost_per_item(demo: TestClient[Any]) -> None:
    stories = demo.get("/api/v1/case-stories?limit=100").json()["data"]
    assert all(s["series"]["slug"] == STORIES for s in stories)
    articles = demo.get("/api/v1/articles?limit=100").json()["data"]
    in_series = {a["slug"] for a in articles if a["series"] is not None}
    assert in_series == {"anti-inflammatory-drugs-and-back-pain-healing", "opioids-and-back-pain"}
    # A page of nine costs what a page of two does: documents, relations, stored
    # fields, and on PostgreSQL the content generation (SQLite reads it apart).
    counts = []
    for limit in (2, 9):
        with counting(demo.app) as statements:
            assert len(demo.get(f"/api/v1/articles?limit={limit}").json()["data"]) == limit
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 4


def test_entries_outside_any_series_say_so(demo: TestClient[Any]) -> None:
    assert navigation(demo, "our-approach-to-treating-back-pain", "articles") is None
    assert "series" not in demo.get("/api/v1/clinics/calgary").json()


# --- Changes --------------------------------------------------------------------


def test_reordering_parts_renumbers_and_relinks_them(
    site: tuple[TestClient[Any], Path], database_url: str
) -> None:
    client, folder = site
    names = titles(client)
    edit(folder, "series", STORIES,
         parts=[f"case-story/{THREE}", f"case-story/{ONE}", f"case-story/{TWO}"])  # fmt: skip
    load(database_url, folder)
    assert navigation(client, THREE)["part"] == 1
    assert navigation(client, THREE)["next"] == ref(ONE, names[ONE])
    assert navigation(client, ONE)["previous"] == ref(THREE, names[THREE])
    assert navigation(client, ONE)["next"] == ref(TWO, names[TWO])
    assert navigation(client, TWO)["part"] == 3
    assert navigation(client, TWO)["next"] is None
    outline = client.get(f"/api/v1/series/{STORIES}").json()["outline"]
    assert [o["slug"] for o in outline] == [THREE, ONE, TWO]


def test_unpublishing_a_part_relinks_its_neighbours(
    site: tuple[TestClient[Any], Path], database_url: str
) -> None:
    client, folder = site
    names = titles(client)
    edit(folder, "case-stories", TWO, status="draft")
    load(database_url, folder)
    assert client.get(f"/api/v1/case-stories/{TWO}").status_code == 404
    assert navigation(client, ONE) | {"title": ""} == {
        "slug": STORIES, "title": "", "part": 1, "total": 2,
        "previous": None, "next": ref(THREE, names[THREE]),
    }  # fmt: skip
    assert navigation(client, THREE)["previous"] == ref(ONE, names[ONE])
    assert navigation(client, THREE)["part"] == 2
    # A draft's title never reaches readers through the series.
    series = client.get(f"/api/v1/series/{STORIES}").json()
    assert [p["slug"] for p in series["parts"]] == [ONE, THREE]
    assert names[TWO] not in str(series["outline"])
    # Publishing it again restores everything.
    edit(folder, "case-stories", TWO, status="published")
    load(database_url, folder)
    assert navigation(client, ONE)["next"] == ref(TWO, names[TWO])
    assert navigation(client, TWO)["part"] == 2


def test_a_scheduled_part_is_announced_but_not_linked(
    site: tuple[TestClient[Any], Path], database_url: str
) -> None:
    client, folder = site
    names = titles(client)
    edit(folder, "case-stories", THREE, status="scheduled", published_at="2027-03-01T15:00:00Z")
    load(database_url, folder)
    outline = client.get(f"/api/v1/series/{STORIES}").json()["outline"]
    assert outline[2] == {
        "part": 3, "status": "planned", "title": names[THREE], "type": None, "slug": None,
        "summary": outline[2]["summary"], "release": "2027-03-01",
    }  # fmt: skip
    nav = navigation(client, TWO)
    assert (nav["part"], nav["total"], nav["next"]) == (2, 3, None)


def test_renaming_a_part_updates_its_neighbours(
    site: tuple[TestClient[Any], Path], database_url: str
) -> None:
    client, folder = site
    edit(folder, "case-stories", TWO, title="A runner's back")
    load(database_url, folder)
    assert navigation(client, ONE)["next"]["title"] == "A runner's back"
    assert navigation(client, THREE)["previous"]["title"] == "A runner's back"
    outline = client.get(f"/api/v1/series/{STORIES}").json()["outline"]
    assert outline[1]["title"] == "A runner's back"


def test_leaving_or_unpublishing_a_series_clears_the_navigation(
    site: tuple[TestClient[Any], Path], database_url: str
) -> None:
    client, folder = site
    edit(folder, "series", STORIES, parts=[f"case-story/{ONE}", f"case-story/{TWO}"])
    load(database_url, folder)
    assert navigation(client, THREE) is None
    assert navigation(client, TWO)["next"] is None
    edit(folder, "series", STORIES, status="draft")
    load(database_url, folder)
    assert client.get(f"/api/v1/series/{STORIES}").status_code == 404
    assert navigation(client, ONE) is None
    assert navigation(client, TWO) is None


def test_a_planned_part_becomes_a_written_one(
    site: tuple[TestClient[Any], Path], database_url: str
) -> None:
    client, folder = site
    article = folder / "articles" / "muscle-relaxants-and-back-pain.md"
    article.write_text(
        "---\ntitle: Muscle relaxants and back pain\nstatus: published\n"
        "published_at: '2027-01-18T15:00:00Z'\n---\n\nWhat they can and cannot do.\n"
    )
    edit(folder, "series", "back-pain-and-medicines", planned_parts=None, parts=[
        "article/anti-inflammatory-drugs-and-back-pain-healing",
        "article/opioids-and-back-pain", "article/muscle-relaxants-and-back-pain",
    ])  # fmt: skip
    load(database_url, folder)
    nav = navigation(client, "muscle-relaxants-and-back-pain", "articles")
    assert (nav["part"], nav["total"], nav["previous"]["slug"]) == (3, 3, "opioids-and-back-pain")
    assert navigation(client, "opioids-and-back-pain", "articles")["next"] == ref(
        "muscle-relaxants-and-back-pain", "Muscle relaxants and back pain", "article"
    )


def test_an_entry_belongs_to_one_series_at_most(database_url: str, content_copy: Path) -> None:
    copy = content_copy / "series" / "more-stories.md"
    copy.write_text(
        f"---\ntitle: More stories\nstatus: published\nparts:\n- case-story/{TWO}\n---\n"
    )
    result = cms(database_url, "content", "load", str(content_copy))
    assert result.exit_code == 1
    assert "nothing was written" in result.output
    assert f"case-story/{TWO} is already a part of series" in result.output
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/api/v1/series").json()["data"] == []


# --- Enabling and disabling -----------------------------------------------------


def test_without_case_stories_a_series_holds_articles_only(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "content"
    for plural in ("clinics", "practitioners", "conditions", "articles"):
        (folder / plural).mkdir(parents=True)
        for path in (CONTENT / plural).glob("*.md"):
            (folder / plural / path.name).write_text(path.read_text())
    (folder / "series").mkdir()
    medicines = (CONTENT / "series" / "back-pain-and-medicines.md").read_text()
    (folder / "series" / "back-pain-and-medicines.md").write_text(medicines)
    only_series = {"CMS_PLUGINS": "blog_series"}
    stories = (CONTENT / "series" / f"{STORIES}.md").read_text()
    (folder / "series" / f"{STORIES}.md").write_text(stories)
    refused = cms(database_url, "content", "load", str(folder), **only_series)
    assert refused.exit_code == 1
    assert f"'case-story/{ONE}': type 'case-story' is not enabled" in refused.output
    (folder / "series" / f"{STORIES}.md").unlink()
    assert cms(database_url, "content", "load", str(folder), **only_series).exit_code == 0
    settings = Settings(database_url=database_url, plugins=("blog_series",))
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/case-stories").status_code == 404
        assert navigation(client, "opioids-and-back-pain", "articles")["part"] == 2
        plugins = {p["name"]: p for p in client.get("/api/v1/plugins").json()["data"]}
        assert plugins["blog_series"]["response_fields"] == ["article.series", "series.outline"]
        assert "case_stories" not in plugins


def test_disabling_blog_series_removes_its_routes_and_fields(demo_url: str) -> None:
    settings = Settings(database_url=demo_url, plugins=("case_stories",))
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/series").status_code == 404
        assert client.get(f"/api/v1/series/{STORIES}").status_code == 404
        # Its stored navigation stays in the database, but no response shows it.
        assert "series" not in client.get("/api/v1/articles/opioids-and-back-pain").json()
        assert "series" not in client.get(f"/api/v1/case-stories/{ONE}").json()
        schema = client.get("/schema/openapi.json").json()
        assert "/api/v1/series" not in schema["paths"]
        assert "series" not in schema["components"]["schemas"]["Article"]["properties"]
        names = [p["name"] for p in client.get("/api/v1/plugins").json()["data"]]
        assert names == ["cms.types", "case_stories"]
