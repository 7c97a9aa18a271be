"""The plugin API, ``cms.plugin``, as a plugin uses it: over HTTP, on a real database.

The throwaway plugins here import what they use from ``cms.plugin`` alone, as
a plugin must. One of them, ``Lessons``, declares a type that sorts by its own
``order`` field, maps its body into its JSON-LD, and serves a public route
through :func:`cms.plugin.public_get` that reads with the bulk read helpers.
"""

from __future__ import annotations

import asyncio
import importlib.resources
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import click
import msgspec
import pytest
from click.testing import CliRunner
from litestar import get
from litestar.testing import TestClient

import cms.plugin
from cms import cli as cli_module
from cms.access.tokens import create_token
from cms.app import build_services, create_app
from cms.plugin import (
    Base,
    ContentType,
    LdEntry,
    ListQuery,
    Node,
    PublicRead,
    RegistrationError,
    Relation,
    ResponseField,
    Slug,
    entries_by_id,
    entries_by_slug,
    hookimpl,
    list_entries,
    not_found,
    open_services,
    public_get,
    relations_from,
    relations_to,
)
from cms.plugin_manager import load_plugins
from tests.conftest import QUIET, counting, load_folder, write_entry


class LessonFields(Base):
    """A lesson's own fields."""

    order: Annotated[int, msgspec.Meta(ge=0, description="Its place in the course.")] = 0
    level: str = "basic"
    condition: Slug | None = None


def lesson_json_ld(entry: LdEntry) -> list[Node]:
    """A lesson as a LearningResource, with its text and length."""
    return [
        {
            "@type": "LearningResource",
            "@id": entry.node_id,
            **entry.page(),
            "articleBody": entry.text,
            "wordCount": entry.word_count,
        }
    ]


LESSON = ContentType(
    name="lesson",
    plural="lessons",
    fields=LessonFields,
    label="Lesson",
    description="One lesson of a course.",
    relations={"condition": Relation(target="condition")},
    sort_fields=("order",),
    default_sort="order",
    json_ld_type="LearningResource",
    json_ld=lesson_json_ld,
)


class LessonsOut(Base):
    """The body of the plugin's route."""

    condition: str
    lessons: list[str]


class Lessons:
    """A type with a sort field of its own, and a public route served like the core's."""

    name = "lessons"

    @hookimpl
    def register_content_types(self) -> Sequence[ContentType]:
        return [LESSON]

    @hookimpl
    def register_routes(self) -> Sequence[Any]:
        @public_get(
            "/api/v1/conditions/{condition:str}/lessons",
            operation_id="listConditionLessons",
            summary="List the lessons about a condition",
            response=LessonsOut,
            errors={404: "No such condition."},
            query={"level": "Only lessons of this level."},
        )
        async def condition_lessons(
            public: PublicRead, condition: str, level: str | None
        ) -> LessonsOut:
            found = await public.entry("condition", condition)
            if found is None:
                raise not_found(f"published condition with slug {condition!r}")
            page = await public.list(
                "lesson", ListQuery(sort="order", filters={"condition": [condition]})
            )
            return LessonsOut(
                condition=found["title"],
                lessons=[d["slug"] for d in page.docs if level in (None, d["level"])],
            )

        @public_get(
            "/api/v1/lesson-records/{slug:str}",
            operation_id="getLessonRecord",
            summary="A lesson as the bulk reads see it",
        )
        async def lesson_record(public: PublicRead, slug: str) -> dict[str, Any]:
            session = public.session
            record = (await entries_by_slug(session, "lesson", [slug]))[slug]
            about = await relations_from(session, [record.id], field="condition")
            condition_id = about[0].target_id
            return {
                "record": record,
                "by_id": sorted(await entries_by_id(session, [record.id, "no-such-id"])),
                "published_by_slug": sorted(
                    await entries_by_slug(session, "lesson", [slug, "draft-one"], published=True)
                ),
                "condition": about[0].entry.working.slug,
                "lessons_about_it": [
                    r.entry.working.slug
                    for r in await relations_to(
                        session, [condition_id], field="condition", source_type="lesson"
                    )
                ],
                "published_lessons_about_it": [
                    r.entry.published.slug if r.entry.published else None
                    for r in await relations_to(
                        session, [condition_id], source_type="lesson", published=True
                    )
                ],
            }

        return [condition_lessons, lesson_record]


LESSONS = {
    "posture": (1, "Sit up straight. Then stand."),
    "breathing": (2, "Breathe in slowly. Breathe out."),
    "stretching": (3, "## Hips\n\nStretch the hips.\n\n- one side\n- the other"),
}


@pytest.fixture(name="lessons_url")
def fixture_lessons_url(database_url: str, tmp_path: Path) -> str:
    """A database with a condition and four lessons about it, one of them a draft."""
    content = tmp_path / "content"
    write_entry(content, "conditions", "sciatica", title="Sciatica", status="published")
    for slug, (order, body) in LESSONS.items():
        write_entry(content, "lessons", slug, body, title=slug.title(), status="published",
                    order=order, condition="sciatica")  # fmt: skip
    write_entry(content, "lessons", "draft-one", title="Draft", order=0, condition="sciatica")
    write_entry(content, "lessons", "advanced", title="Advanced", status="published", order=4,
                level="advanced", condition="sciatica")  # fmt: skip
    load_folder(database_url, content, plugins=[Lessons()])
    return database_url


@pytest.fixture(name="lessons")
def fixture_lessons(lessons_url: str) -> Iterator[TestClient[Any]]:
    """The app with the Lessons plugin on that database."""
    settings = cms.plugin.Settings(database_url=lessons_url, **QUIET)
    with TestClient(create_app(settings, plugins=[Lessons()])) as client:
        yield client


def editor_auth(url: str) -> dict[str, str]:
    """The Authorization header of a new editor token in ``url``."""
    services = build_services(cms.plugin.Settings(database_url=url))

    async def mint() -> str:
        try:
            async with services.sessions() as session, session.begin():
                _token, secret = await create_token(
                    session, name="lessons-editor", role="editor", clinics=(), created_by="tests"
                )
        finally:
            await services.engine.dispose()
        return secret

    return {"Authorization": f"Bearer {asyncio.run(mint())}"}


def _slugs(client: TestClient[Any], url: str, **headers: str) -> list[str]:
    """Every slug of a list, one item a page, following the cursors."""
    slugs: list[str] = []
    cursor = None
    while True:
        page_url = url + (f"&cursor={cursor}" if cursor else "")
        response = client.get(page_url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        slugs += [d["slug"] for d in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return slugs


# --- Sorting by a type's own field --------------------------------------------


def test_a_list_sorts_by_a_field_the_type_declares(
    lessons: TestClient[Any], lessons_url: str
) -> None:
    order = ["posture", "breathing", "stretching", "advanced"]
    assert _slugs(lessons, "/api/v1/lessons?limit=1&sort=order") == order
    assert _slugs(lessons, "/api/v1/lessons?limit=1&sort=-order") == order[::-1]
    assert _slugs(lessons, "/api/v1/lessons?limit=2") == order  # the type's default sort
    # A cursor made for one order is refused by the other.
    first = lessons.get("/api/v1/lessons?limit=1&sort=order").json()["next_cursor"]
    refused = lessons.get(f"/api/v1/lessons?limit=1&sort=-order&cursor={first}")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["name"] == "cursor"
    # Editors list the working copies, drafts included, in the same order.
    editor = editor_auth(lessons_url)
    assert _slugs(lessons, "/api/v1/lessons?limit=1&sort=order", **editor) == [
        "draft-one", *order,
    ]  # fmt: skip


def test_a_pending_draft_does_not_move_the_published_version(
    lessons: TestClient[Any], lessons_url: str
) -> None:
    editor = editor_auth(lessons_url)
    # The plugin's route shows the working copy and names no key: cached now, it is
    # dropped by the draft save below, which leaves every answer of the core's cached.
    before = lessons.get("/api/v1/lesson-records/posture").json()["record"]
    assert before["working"]["data"]["order"] == 1
    etag = lessons.get("/api/v1/lessons/posture", headers=editor).headers["etag"]
    changed = lessons.patch(
        "/api/v1/lessons/posture", json={"order": 9}, headers={**editor, "If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    public = _slugs(lessons, "/api/v1/lessons?limit=1&sort=order")
    assert public[0] == "posture"  # readers still see order 1
    working = _slugs(lessons, "/api/v1/lessons?limit=1&sort=order", **editor)
    assert working[-1] == "posture"
    # The bulk reads see both versions.
    record = lessons.get("/api/v1/lesson-records/posture").json()["record"]
    assert record["working"]["data"]["order"] == 9
    assert record["working"]["status"] == "draft"
    assert record["published"]["data"]["order"] == 1
    assert record["published"]["status"] == "published"


def test_the_sort_field_is_documented_for_its_type_only(lessons: TestClient[Any]) -> None:
    paths = lessons.get("/schema/openapi.json").json()["paths"]

    def sorts(path: str) -> list[str]:
        parameters = paths[path]["get"]["parameters"]
        options: list[str] = next(p for p in parameters if p["name"] == "sort")["schema"]["enum"]
        return options

    assert sorts("/api/v1/lessons")[-2:] == ["order", "-order"]
    assert "order" not in sorts("/api/v1/articles")


@pytest.mark.parametrize(
    ("sort_fields", "reason"),
    [(("colour",), "colour"), (("condition",), "condition"), (("level", "maybe"), "maybe")],
)
def test_a_sort_field_must_hold_values_that_sort(sort_fields: tuple[str, ...], reason: str) -> None:
    class MaybeFields(LessonFields):
        maybe: int | None = None

    class Bad:
        name = "bad-sort"

        @hookimpl
        def register_content_types(self) -> Sequence[ContentType]:
            return [
                ContentType(
                    name="bad", plural="bads", fields=MaybeFields, label="Bad",
                    description="Bad.", relations={"condition": Relation(target="condition")},
                    sort_fields=sort_fields,
                )
            ]  # fmt: skip

    with pytest.raises(RegistrationError, match=f"plugin 'bad-sort': sort field '{reason}'"):
        load_plugins(plugins=[Bad()])


# --- JSON-LD sees the body ------------------------------------------------------


def test_a_json_ld_mapping_sees_the_rendered_body(lessons: TestClient[Any]) -> None:
    node = lessons.get("/api/v1/lessons/breathing").json()["json_ld"]["@graph"][0]
    assert node["articleBody"] == "Breathe in slowly. Breathe out."
    assert node["wordCount"] == 5
    node = lessons.get("/api/v1/lessons/stretching").json()["json_ld"]["@graph"][0]
    assert node["articleBody"] == "Hips\nStretch the hips.\none side\nthe other"


# --- A public route through the response cache ----------------------------------


def test_a_public_route_is_served_like_the_cores_reads(lessons: TestClient[Any]) -> None:
    url = "/api/v1/conditions/sciatica/lessons"
    first = lessons.get(url)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "condition": "Sciatica",
        "lessons": ["posture", "breathing", "stretching", "advanced"],
    }
    assert first.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
    assert first.headers["vary"].startswith("Accept-Encoding")
    keys = first.headers["surrogate-key"].split()
    assert keys[0].startswith("entry:")  # the condition, read first
    assert "list:lesson" in keys
    assert len([k for k in keys if k.startswith("entry:")]) == 1 + 4
    again = lessons.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert lessons.head(url).headers["etag"] == first.headers["etag"]
    assert lessons.get(url + "?level=advanced").json()["lessons"] == ["advanced"]


def test_a_cached_public_route_costs_one_query_until_the_next_write(
    lessons: TestClient[Any], lessons_url: str
) -> None:
    url = "/api/v1/conditions/sciatica/lessons"
    lessons.get(url)
    with counting(lessons.app) as queries:
        cached = lessons.get(url)
    assert cached.status_code == 200
    # The content generation (on SQLite, read through a connection of its own), nothing else.
    assert [q for q in queries if "site_state" not in q] == []
    editor = editor_auth(lessons_url)
    etag = lessons.get("/api/v1/lessons/advanced", headers=editor).headers["etag"]
    unpublished = lessons.post(
        "/api/v1/lessons/advanced/unpublish", headers={**editor, "If-Match": etag}
    )
    assert unpublished.status_code == 200, unpublished.text
    assert lessons.get(url).json()["lessons"] == ["posture", "breathing", "stretching"]


def test_a_public_route_answers_problems(lessons: TestClient[Any]) -> None:
    missing = lessons.get("/api/v1/conditions/nowhere/lessons")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "public" not in missing.headers.get("cache-control", "")  # never cached
    unknown = lessons.get("/api/v1/conditions/sciatica/lessons?colour=red")
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["name"] == "colour"


def test_a_public_route_is_documented(lessons: TestClient[Any]) -> None:
    document = lessons.get("/schema/openapi.json").json()
    operation = document["paths"]["/api/v1/conditions/{condition}/lessons"]["get"]
    assert operation["operationId"] == "listConditionLessons"
    assert set(operation["responses"]) == {"200", "304", "400", "404", "500", "503"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LessonsOut"
    }
    assert [p.get("name", p.get("$ref")) for p in operation["parameters"]] == [
        "condition",
        "level",
        "#/components/parameters/IfNoneMatch",
    ]


# --- Bulk reads -------------------------------------------------------------------


def test_bulk_reads_see_working_copies_and_published_versions(lessons: TestClient[Any]) -> None:
    body = lessons.get("/api/v1/lesson-records/posture").json()
    record = body["record"]
    assert record["type"] == "lesson"
    assert record["working"]["slug"] == "posture"
    assert record["working"]["data"] == {"order": 1, "level": "basic"}  # relations are rows
    assert record["published"]["title"] == "Posture"
    assert body["by_id"] == [record["id"]]  # an unknown id is left out
    assert body["published_by_slug"] == ["posture"]  # the draft has no published version
    assert body["condition"] == "sciatica"
    assert sorted(body["lessons_about_it"]) == sorted([*LESSONS, "draft-one", "advanced"])
    assert sorted(body["published_lessons_about_it"]) == sorted([*LESSONS, "advanced"])


# --- Schema names -------------------------------------------------------------------


class Seo(Base):
    """A plugin's Struct named like a core schema."""

    score: int = 0


def test_a_plugin_schema_may_not_take_a_core_schemas_name(lessons_url: str) -> None:
    class Scores:
        name = "scores"

        @hookimpl
        def register_response_fields(self) -> Sequence[ResponseField]:
            return [ResponseField(name="score", types=("condition",), schema=Seo | None,
                                  description="A score.")]  # fmt: skip

    with pytest.raises(RegistrationError, match=r"schema name 'Seo'.*plugin 'scores'"):
        create_app(cms.plugin.Settings(database_url=lessons_url), plugins=[Scores()])


def test_a_type_label_may_not_take_a_core_schemas_name(lessons_url: str) -> None:
    class Refs:
        name = "refs"

        @hookimpl
        def register_content_types(self) -> Sequence[ContentType]:
            return [ContentType(name="ref", plural="refs", fields=LessonFields, label="Entry Ref",
                                description="Refs.",
                                relations={"condition": Relation(target="condition")})]  # fmt: skip

    with pytest.raises(RegistrationError, match=r"schema name 'EntryRef'.*plugin 'refs'"):
        create_app(cms.plugin.Settings(database_url=lessons_url), plugins=[Refs()])


def _note_route(path: str) -> Any:
    class Note(Base):
        """Each call makes a new class of the same name."""

        text: str = ""

    def note() -> Note:
        return Note()

    note.__annotations__["return"] = Note  # a local class: no name Litestar could resolve
    return get(path, sync_to_thread=False)(note)


def test_two_plugins_may_not_document_two_schemas_of_one_name(lessons_url: str) -> None:
    class First:
        name = "first"

        @hookimpl
        def register_routes(self) -> Sequence[Any]:
            return [_note_route("/api/v1/first-note")]

    class Second:
        name = "second"

        @hookimpl
        def register_routes(self) -> Sequence[Any]:
            return [_note_route("/api/v1/second-note")]

    settings = cms.plugin.Settings(database_url=lessons_url)
    with pytest.raises(RegistrationError, match=r"Note'.*plugin 'first'.*plugin 'second'"):
        create_app(settings, plugins=[First(), Second()])
    create_app(settings, plugins=[First()])  # alone, it keeps its name


# --- Commands ---------------------------------------------------------------------


def test_a_plugin_command_opens_the_apps_services(
    demo_url: str, demo: TestClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Census:
        name = "census"

        @hookimpl
        def register_commands(self, cli: click.Group) -> None:
            @cli.command("count-clinics")
            def count_clinics() -> None:
                async def count() -> int:
                    async with open_services() as services, services.sessions() as session:
                        clinic = services.plugins.types["clinic"]
                        docs, _next = await list_entries(session, clinic, ListQuery(limit=100))
                    return len(docs)

                click.echo(asyncio.run(count()))

    group = cli_module.CmsGroup(name="cms", commands=dict(cli_module.main.commands))
    monkeypatch.setattr(
        "cms.plugin_manager.load_plugins", lambda *_a, **_k: load_plugins(plugins=[Census()])
    )
    result = CliRunner().invoke(group, ["count-clinics"], env={"CMS_DATABASE_URL": demo_url})
    assert result.exit_code == 0, result.output
    assert int(result.output) == len(demo.get("/api/v1/clinics?limit=100").json()["data"])


# --- The module itself --------------------------------------------------------------


def test_every_name_of_the_api_is_there() -> None:
    missing = [name for name in cms.plugin.__all__ if not hasattr(cms.plugin, name)]
    assert missing == []
    assert sorted(cms.plugin.__all__) == cms.plugin.__all__


def test_the_package_is_typed() -> None:
    assert importlib.resources.files("cms").joinpath("py.typed").is_file()
