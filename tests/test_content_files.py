"""`cms content load` and `cms content dump` through the real command line."""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from litestar.testing import TestClient

from cms.app import create_app
from cms.cli import main
from cms.settings import Settings
from tests.conftest import CONTENT


def cms(url: str, *args: str) -> Result:
    """Run the `cms` command with ``url`` as its database."""
    return CliRunner().invoke(main, list(args), env={"CMS_DATABASE_URL": url})


def _same_tree(left: Path, right: Path) -> list[str]:
    """Paths that differ between two folders, recursively."""
    cmp = filecmp.dircmp(left, right)
    diffs = [*cmp.left_only, *cmp.right_only, *cmp.diff_files, *cmp.funny_files]
    for sub in cmp.common_dirs:
        diffs.extend(f"{sub}/{d}" for d in _same_tree(left / sub, right / sub))
    return diffs


def _count(url: str, plural: str) -> int:
    with TestClient(create_app(Settings(database_url=url))) as client:
        return len(client.get(f"/api/v1/{plural}?limit=100").json()["data"])


def test_load_then_dump_reproduces_the_files(database_url: str, tmp_path: Path) -> None:
    loaded = cms(database_url, "content", "load", str(CONTENT))
    assert loaded.exit_code == 0, loaded.output
    total = sum(1 for _ in CONTENT.glob("*/*.md"))
    assert f"{total} created, 0 updated, 0 unchanged" in loaded.output
    dumped = cms(database_url, "content", "dump", str(tmp_path / "out"))
    assert dumped.exit_code == 0, dumped.output
    assert _same_tree(CONTENT, tmp_path / "out") == []


def test_loading_twice_changes_nothing(database_url: str) -> None:
    assert cms(database_url, "content", "load", str(CONTENT)).exit_code == 0
    again = cms(database_url, "content", "load", str(CONTENT))
    assert again.exit_code == 0
    assert "0 created, 0 updated" in again.output
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/api/v1/clinics/calgary").json()["version"] == 1


def test_an_edited_file_updates_its_entry(database_url: str, content_copy: Path) -> None:
    assert cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    path = content_copy / "clinics" / "calgary.md"
    path.write_text(path.read_text().replace("title: ", "title: Downtown ", 1))
    result = cms(database_url, "content", "load", str(content_copy))
    assert "0 created, 1 updated" in result.output
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        clinic = client.get("/api/v1/clinics/calgary").json()
        assert clinic["title"].startswith("Downtown ")
        assert clinic["version"] == 2
        # References elsewhere show the new title on the next read.
        lena = client.get("/api/v1/practitioners/lena-marchetti").json()
        assert "calgary" in lena["clinics"]


BROKEN = {
    "unknown field": ("articles/opioids-and-back-pain.md", "colour: blue\n", "colour"),
    "wrong type": ("clinics/calgary.md", "geo: here\n", "geo"),
    "bad slug list": ("articles/opioids-and-back-pain.md", "tags: [Not A Slug]\n", "tags"),
    "missing target": ("articles/opioids-and-back-pain.md", "conditions: [gout]\n", "conditions"),
    "bad status": ("conditions/sciatica.md", "status: live\n", "status"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_an_invalid_file_is_named_and_nothing_is_written(
    database_url: str, content_copy: Path, case: str
) -> None:
    relative, line, field = BROKEN[case]
    path = content_copy / relative
    text = path.read_text()
    key = line.split(":")[0] + ":"
    kept: list[str] = []
    dropping = False
    for ln in text.split("\n"):
        # Drop the key's line and, for a block list or mapping, its indented items.
        if ln.startswith(key):
            dropping = True
            continue
        if dropping and ln.startswith(("- ", "  ")):
            continue
        dropping = False
        kept.append(ln)
    # Insert the broken line just before the closing front-matter fence.
    closing = kept.index("---", 1)
    kept.insert(closing, line.rstrip("\n"))
    path.write_text("\n".join(kept))
    result = cms(database_url, "content", "load", str(content_copy))
    assert result.exit_code == 1
    assert "nothing was written" in result.output
    assert f"{path}: {field}" in result.output
    assert _count(database_url, "articles") == 0
    assert _count(database_url, "clinics") == 0


def test_every_bad_file_is_reported_at_once(database_url: str, content_copy: Path) -> None:
    (content_copy / "articles" / "a.md").write_text("---\ntitle: ''\n---\n")
    (content_copy / "articles" / "b.md").write_text("---\n: [unclosed\n---\n")
    (content_copy / "articles" / "Bad Name.md").write_text("---\ntitle: x\n---\n")
    result = cms(database_url, "content", "load", str(content_copy))
    assert result.exit_code == 1
    for name in ("a.md: title", "b.md: front matter is not valid YAML", "Bad Name.md: slug"):
        assert name in result.output


def test_a_failed_load_leaves_earlier_content_untouched(
    database_url: str, content_copy: Path
) -> None:
    assert cms(database_url, "content", "load", str(CONTENT)).exit_code == 0
    path = content_copy / "clinics" / "calgary.md"
    path.write_text(path.read_text().replace("title: ", "title: Changed ", 1))
    (content_copy / "articles" / "broken.md").write_text("---\ntitle: x\nauthor: nobody\n---\n")
    assert cms(database_url, "content", "load", str(content_copy)).exit_code == 1
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert not client.get("/api/v1/clinics/calgary").json()["title"].startswith("Changed")


def test_a_folder_of_a_type_that_is_not_enabled_is_skipped(
    database_url: str, content_copy: Path
) -> None:
    (content_copy / "recipes").mkdir()
    (content_copy / "recipes" / "soup.md").write_text("---\ntitle: Soup\n---\n")
    result = cms(database_url, "content", "load", str(content_copy))
    assert result.exit_code == 0, result.output
    assert "skipped recipes/" in result.output


def test_dump_writes_ids_that_are_not_derived(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "in" / "clinics"
    folder.mkdir(parents=True)
    text = "---\nid: 0b7a3c52-8f4e-4d1a-9c6b-2e5f7a9d1c3e\ntitle: Red Deer\n---\n\nHello.\n"
    (folder / "red-deer.md").write_text(text)
    assert cms(database_url, "content", "load", str(tmp_path / "in")).exit_code == 0
    assert cms(database_url, "content", "dump", str(tmp_path / "out")).exit_code == 0
    assert (tmp_path / "out" / "clinics" / "red-deer.md").read_text() == text


def test_progress_is_shown_while_loading(database_url: str) -> None:
    result: Any = cms(database_url, "content", "load", str(CONTENT))
    assert "loading" in result.output
