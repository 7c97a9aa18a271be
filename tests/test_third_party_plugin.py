"""A third-party plugin installed through a real entry point, as its author would.

The plugin is the complete example of ``docs/plugins.md``: its files are
copied out of the documentation into a temporary distribution (a package and
its ``.dist-info`` with the ``cms`` entry point) on ``sys.path``, and the app
finds it the way it finds any installed plugin. So the documented example is
known to work, and an author can write a plugin from that page alone.
"""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from cms.app import create_app
from cms.cli import main, openapi_bytes
from cms.settings import Settings
from tests.conftest import CONTENT, FIRST_PARTY_PLUGINS, REPO, load_folder

DOCS = REPO / "docs" / "plugins.md"
WORKSHOP = (
    "---\ntitle: Desk stretches\nstatus: published\nclinics:\n- calgary\n"
    "host: lena-marchetti\nstarts_at: '2026-12-05T18:00:00Z'\ncapacity: 8\n---\n\n"
    "Gentle stretches for people who sit all day.\n"
)


def documented_files() -> dict[str, str]:
    """Every code block of docs/plugins.md that starts with ``# file: <path>``."""
    blocks = re.findall(r"```\w+\n# file: (\S+)\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    return dict(blocks)


@pytest.fixture(name="installed")
def fixture_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The documented plugin, installed as a distribution on the path."""
    files = documented_files()
    project = tomllib.loads(files.pop("pyproject.toml"))["project"]
    site = tmp_path / "site"
    for name, text in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text, encoding="utf-8")
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    entry_points = project["entry-points"]["cms"]
    (dist / "entry_points.txt").write_text(
        "[cms]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    )
    monkeypatch.syspath_prepend(str(site))  # also invalidates the import caches
    yield site
    for module in [m for m in sys.modules if m.startswith("clinic_workshops")]:
        del sys.modules[module]


def test_the_documented_plugin_is_complete() -> None:
    files = documented_files()
    assert set(files) == {
        "pyproject.toml",
        "clinic_workshops/__init__.py",
        "tests/test_workshops.py",
    }


def test_a_plugin_installed_through_an_entry_point_is_served(
    installed: Path, database_url: str, tmp_path: Path
) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "workshops").mkdir()
    (content / "workshops" / "desk-stretches.md").write_text(WORKSHOP, encoding="utf-8")
    load_folder(database_url, content)  # the installed plugins, as `cms content load` does
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        workshop = client.get("/api/v1/workshops/desk-stretches").json()
        assert workshop["capacity"] == 8
        assert workshop["host"] == {"slug": "lena-marchetti", "title": "Lena Marchetti"}
        event = workshop["json_ld"]["@graph"][0]
        assert event["@type"] == "Event"
        assert event["organizer"]["name"] == "Lena Marchetti"
        listed = client.get("/api/v1/clinics/calgary/workshops").json()["data"]
        assert [w["slug"] for w in listed] == ["desk-stretches"]
        assert client.get("/api/v1/clinics/edmonton/workshops").json()["data"] == []
        missing = client.get("/api/v1/clinics/nowhere/workshops")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        plugins = {p["name"]: p for p in client.get("/api/v1/plugins").json()["data"]}
        schema = client.get("/schema/openapi.json").json()
    assert plugins["workshops"]["version"] == "0.3.0"
    assert plugins["workshops"]["source"] == "entry-point"
    assert plugins["workshops"]["content_types"] == ["workshop"]
    assert "GET /api/v1/clinics/{clinic}/workshops" in plugins["workshops"]["routes"]
    assert schema["paths"]["/api/v1/clinics/{clinic}/workshops"]["get"]["operationId"] == (
        "listClinicWorkshops"
    )
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


def test_the_documented_plugin_test_passes(installed: Path, tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    source = installed / "tests" / "test_workshops.py"
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # noqa: S102
    namespace["test_a_workshop_is_served"](tmp_path)


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
