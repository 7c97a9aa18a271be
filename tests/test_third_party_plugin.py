"""The documented example plugin, installed as a distribution and tested as its author would.

The plugin is the complete example of ``docs/plugins.md`` (clinic workshops):
its files are copied out of the page into a folder laid out as an installer
leaves site-packages, the package beside a ``.dist-info`` holding the
METADATA and ``cms`` entry points of the documented ``pyproject.toml``
(:func:`tests.documented_plugin.install`). The folder is put on ``sys.path``
here and on ``PYTHONPATH`` for the processes the tests start (``cms db
upgrade``, ``cms serve``, ``cms workshops``, and pytest on the documented
tests), so each finds the plugin through its entry point, as after a ``pip
install``.

Why not ``pip install`` a built wheel: building it needs the documented
build backend (hatchling), which this environment does not have, so pip
would fetch it from an index and the test would depend on the network; and
installing into the test's own environment would change what every other
test loads. What an installer writes beyond these files (RECORD, INSTALLER)
is read by nothing that loads a plugin.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import func, inspect, select, table

from cms.app import create_app
from cms.cli import main, openapi_bytes
from cms.settings import Settings
from cms.storage.db import create_engine
from cms.testing import POSTGRES_URL, mint_tokens
from tests.conftest import FIRST_PARTY_PLUGINS, REPO
from tests.documented_plugin import documented_files, install
from tests.servers import CMS, HTTP_TIMEOUT, QUIET, cms_serve
from tests.test_jsonld import check_json_ld

pytest_plugins = ["pytester"]

WORKSHOP = {
    "title": "Desk stretches",
    "clinics": ["banff"],
    "host": "lena-marchetti",
    "starts_on": "2026-12-05",
    "start_time": "18:00:00",
    "capacity": 8,
    "body": (
        "Gentle stretches for people who sit all day. <script>alert(1)</script>\n\n"
        '::: bring Bring along"><script>alert(2)</script>\n'
        "A mat, and water.\n:::\n"
    ),
}


@pytest.fixture(name="installed")
def fixture_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The documented plugin, installed: found in this process and in those it starts."""
    site = tmp_path / "site"
    install(site)
    monkeypatch.syspath_prepend(str(site))  # also invalidates the import caches
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    )
    yield site
    for module in [m for m in sys.modules if m.startswith("clinic_workshops")]:
        del sys.modules[module]


def cms(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The ``cms`` command, in a process of its own."""
    return subprocess.run(
        [str(CMS), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def publish(
    http: httpx.Client, auth: dict[str, str], plural: str, body: dict[str, Any]
) -> httpx.Response:
    """Create a draft through the editors' API and publish it; the answer to the publish."""
    created = http.post(f"/api/v1/{plural}", json=body, headers=auth)
    assert created.status_code == 201, created.text
    path = f"/api/v1/{plural}/{created.json()['slug']}/publish"
    return http.post(path, headers={**auth, "If-Match": created.headers["etag"]})


async def _tables_and_places(url: str) -> tuple[set[str], int | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
            if "workshop_places" not in tables:
                return tables, None
            rows = await connection.execute(
                select(func.count()).select_from(table("workshop_places"))
            )
            return tables, int(rows.scalar_one())
    finally:
        await engine.dispose()


def tables_and_places(url: str) -> tuple[set[str], int | None]:
    """The tables of ``url``, and the rows of the plugin's table (None when it has none)."""
    return asyncio.run(_tables_and_places(url))


def test_the_documented_plugin_is_complete() -> None:
    assert set(documented_files()) == {
        "pyproject.toml",
        "clinic_workshops/__init__.py",
        "clinic_workshops/types.py",
        "clinic_workshops/markdown.py",
        "clinic_workshops/places.py",
        "clinic_workshops/migrations/workshops_0001_places.py",
        "tests/test_workshops.py",
    }


def test_the_installed_plugin_migrates_serves_and_runs_its_command(
    installed: Path, database_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        **QUIET,
        "CMS_DATABASE_URL": database_url,
        "CMS_WORKSHOPS_MAX_CAPACITY": "20",
    }
    # The real `cms db upgrade` applies the plugin's branch: its table is made.
    upgraded = cms(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    tables, places = tables_and_places(database_url)
    assert "workshop_places" in tables
    assert places == 0
    secret = mint_tokens(database_url, {"editor": ("editor", ())})["editor"]
    editor = {"Authorization": f"Bearer {secret}"}

    with (
        cms_serve(env, tmp_path / "server.log") as base,
        httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http,
    ):
        for plural, title in (("clinics", "Banff"), ("practitioners", "Lena Marchetti")):
            assert publish(http, editor, plural, {"title": title}).status_code == 200
        published = publish(http, editor, "workshops", WORKSHOP)
        assert published.status_code == 200, published.text

        # The publish check refuses, naming each field: no host, and more
        # places than CMS_WORKSHOPS_MAX_CAPACITY allows.
        crowded = {**WORKSHOP, "title": "Crowded", "host": None, "capacity": 25}
        refused = publish(http, editor, "workshops", crowded)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["type"] == "urn:clinic-cms:problem:publish-refused"
        assert sorted((e["name"], e["reason"]) for e in problem["errors"]) == [
            ("capacity", "the largest room has 20 places"),
            ("host", "a workshop needs a practitioner to lead it"),
        ]

        # The Markdown extension's HTML is kept, as declared; no script is.
        workshop = http.get("/api/v1/workshops/desk-stretches").json()
        html = workshop["body_html"]
        assert (
            '<aside class="bring" aria-label="Bring along&quot;&gt;&lt;script&gt;'
            'alert(2)&lt;/script&gt;">\n<p>A mat, and water.</p>\n</aside>'
        ) in html
        assert "<script" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # raw HTML is text
        # Its JSON-LD is schema.org's, and described from the body.
        check_json_ld(workshop["json_ld"])
        event = workshop["json_ld"]["@graph"][0]
        assert event["@type"] == "Event"
        assert event["startDate"] == "2026-12-05T18:00:00"
        assert event["organizer"]["name"] == "Lena Marchetti"
        assert event["description"].startswith("Gentle stretches for people who sit all day.")

        # The plugin's route, through the response cache.
        route = "/api/v1/clinics/banff/workshops"
        listed = http.get(route)
        assert listed.status_code == 200
        assert [w["slug"] for w in listed.json()["data"]] == ["desk-stretches"]
        assert listed.headers["cache-control"].startswith("public")
        keys = set(listed.headers["surrogate-key"].split())
        clinic = http.get("/api/v1/clinics/banff").json()
        practitioner = http.get("/api/v1/practitioners/lena-marchetti").json()
        assert keys == {
            "list:workshop",
            f"entry:{clinic['id']}",
            f"entry:{workshop['id']}",
            f"entry:{practitioner['id']}",
        }
        again = http.get(route, headers={"If-None-Match": listed.headers["etag"]})
        assert again.status_code == 304
        assert again.headers["etag"] == listed.headers["etag"]
        missing = http.get("/api/v1/clinics/jasper/workshops")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")

        # The command, as `cms` runs it, on the plugin's own table.
        booked = cms(env, "workshops", "book", "desk-stretches", "--places", "3")
        assert booked.returncode == 0, booked.stderr
        assert booked.stdout == "desk-stretches: 3 of 8 places booked\n"
        full = cms(env, "workshops", "book", "desk-stretches", "--places", "6")
        assert full.returncode == 1
        assert "desk-stretches: 5 of 8 places left" in full.stderr
        counted = cms(env, "workshops", "places", "desk-stretches")
        assert counted.stdout == "desk-stretches: 3 of 8 places booked\n"
        # The publish check reads that table: fewer places than are booked is refused.
        path = "/api/v1/workshops/desk-stretches"
        fewer = http.patch(path, json={"capacity": 2}, headers={**editor, "If-Match": "*"})
        assert fewer.status_code == 200, fewer.text
        refused = http.post(f"{path}/publish", headers={**editor, "If-Match": "*"})
        assert refused.status_code == 422
        assert [(e["name"], e["reason"]) for e in refused.json()["errors"]] == [
            ("capacity", "3 places are booked already")
        ]

        plugins = {p["name"]: p for p in http.get("/api/v1/plugins").json()["data"]}
        schema = http.get("/schema/openapi.json").json()
        # Each workshop has its row (the crowded one too, a draft); deleting
        # one deletes its row, through the plugin's foreign key.
        assert tables_and_places(database_url)[1] == 2
        deleted = http.delete(path, headers={**editor, "If-Match": "*"})
        assert deleted.status_code == 204, deleted.text
        assert tables_and_places(database_url)[1] == 1

    workshops = plugins["workshops"]
    assert (workshops["version"], workshops["source"]) == ("0.3.0", "entry-point")
    assert workshops["content_types"] == ["workshop"]
    assert workshops["markdown_extensions"] == ["bring_blocks"]
    assert workshops["commands"] == ["workshops"]
    assert "GET /api/v1/clinics/{clinic}/workshops" in workshops["routes"]
    operation = schema["paths"]["/api/v1/clinics/{clinic}/workshops"]["get"]
    assert operation["operationId"] == "listClinicWorkshops"
    # Downgrading the plugin's branch drops its table, and its table only.
    downgraded = cms(env, "db", "downgrade", "workshops@base")
    assert downgraded.returncode == 0, downgraded.stderr
    tables, places = tables_and_places(database_url)
    assert places is None
    assert "entries" in tables


def test_the_documented_tests_pass(installed: Path, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_workshops=documented_files()["tests/test_workshops.py"])
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-W", "error")
    # Each test runs on SQLite, and on PostgreSQL when CMS_TEST_POSTGRES_URL is set.
    result.assert_outcomes(**({"passed": 8} if POSTGRES_URL else {"passed": 4, "skipped": 4}))


def test_plugins_list_shows_the_installed_plugin(installed: Path) -> None:
    listing = CliRunner().invoke(main, ["plugins", "list"], env={"CMS_PLUGINS": "workshops"})
    assert listing.exit_code == 0, listing.output
    assert "workshops 0.3.0 [entry-point]" in listing.output


def test_cms_plugins_can_leave_an_installed_plugin_out(installed: Path, database_url: str) -> None:
    others = tuple(p for p in _installed_names() if p != "workshops")
    settings = Settings(database_url=database_url, plugins=others)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/workshops").status_code == 404
        assert client.get("/api/v1/clinics/calgary/workshops").status_code == 404
        names = [p["name"] for p in client.get("/api/v1/plugins").json()["data"]]
        assert "workshops" not in names
        assert client.get("/health").status_code == 200


def test_an_installed_plugin_leaves_the_core_tests_alone(installed: Path) -> None:
    """The core's tests name the plugins they build the app with: installing
    another one (here, the documented plugin) changes nothing they see."""
    assert "workshops" in _installed_names()
    committed = (REPO / "openapi" / "openapi.json").read_bytes()
    assert openapi_bytes(plugins=FIRST_PARTY_PLUGINS) == committed
    # Built with every installed plugin, as the core's tests once were, the
    # document differs: that broke them.
    assert b"listClinicWorkshops" in openapi_bytes()


def _installed_names() -> list[str]:
    import importlib.metadata

    return sorted(ep.name for ep in importlib.metadata.entry_points(group="cms"))
