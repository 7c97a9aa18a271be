"""`make run` a second time keeps what an editor published in between.

The commands `make run` runs (`cms db upgrade`, `cms content load content`,
`cms serve`), run for real in a folder of their own; the editor works over
real HTTP with a token made by `cms tokens create`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import CONTENT, Databases
from tests.servers import CMS, cms_serve

SLUG = "opioids-and-back-pain"
ARTICLE = f"/api/v1/articles/{SLUG}"
EDITED = "Opioids, reviewed by our pharmacist in 2026."


@pytest.fixture(name="env")
def fixture_env(backend: str, databases: Databases, tmp_path: Path) -> dict[str, str]:
    """The environment of the commands: a database no command has touched yet.

    On SQLite, a file in a data folder that does not exist yet, as on a fresh
    clone; on PostgreSQL, an empty migrated database.
    """
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'data' / 'cms.db'}"
        if backend == "sqlite"
        else databases.fresh()
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMS_")}
    return env | {"CMS_DATABASE_URL": url}


def cms(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one `cms` command in ``cwd``, which must succeed."""
    done = subprocess.run(
        [str(CMS), *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"cms {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


@contextmanager
def make_run(
    env: dict[str, str], cwd: Path, log: Path
) -> Iterator[tuple[str, subprocess.CompletedProcess[str]]]:
    """What `make run` does: migrate, load `content`, serve; the base URL and the load."""
    cms(env, cwd, "db", "upgrade")
    loaded = cms(env, cwd, "content", "load", "content")
    with cms_serve(env, log, cwd=cwd) as base:
        yield base, loaded


def test_make_run_again_keeps_what_an_editor_published(env: dict[str, str], tmp_path: Path) -> None:
    shutil.copytree(CONTENT, tmp_path / "content")
    with make_run(env, tmp_path, tmp_path / "first.log") as (base, loaded):
        assert loaded.stdout.strip() == "25 created, 0 updated, 0 unchanged"
        # The secret alone on standard output, so that TOKEN=$(cms tokens create ...) works.
        made = cms(env, tmp_path, "tokens", "create", "--name", "ana", "--role", "editor")
        auth = {"Authorization": f"Bearer {made.stdout.strip()}"}
        with httpx.Client(base_url=base, timeout=30) as http:
            working = http.get(ARTICLE, headers=auth)
            assert working.status_code == 200, working.text
            changed = http.patch(
                ARTICLE,
                json={"summary": EDITED},
                headers={**auth, "If-Match": working.headers["etag"]},
            )
            assert changed.status_code == 200, changed.text
            published = http.post(
                f"{ARTICLE}/publish", headers={**auth, "If-Match": changed.headers["etag"]}
            )
            assert published.status_code == 200, published.text
            assert http.get(ARTICLE).json()["summary"] == EDITED

    with make_run(env, tmp_path, tmp_path / "second.log") as (base, loaded):
        assert loaded.stdout.strip() == (
            "0 created, 0 updated, 24 unchanged, 1 kept (changed in the database)"
        )
        assert f"content/articles/{SLUG}.md: version " in loaded.stderr
        assert "(publish by token 'ana'" in loaded.stderr
        with httpx.Client(base_url=base, timeout=30) as http:
            public = http.get(ARTICLE)
            assert public.status_code == 200, public.text
            assert public.json()["summary"] == EDITED
            assert public.json()["version"] == published.json()["version"]
