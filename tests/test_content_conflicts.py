"""`cms content load` never reverts a change made through the API.

Each test loads a copy of the demo through the command line, changes entries
through the app with a token, as an editor would, and loads again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from litestar.testing import TestClient

from cms.app import create_app
from cms.storage.migrate import downgrade, upgrade
from tests.conftest import Editing, edit_entry, mint_tokens, read_entry_as, run_cms, step

SLUG = "opioids-and-back-pain"
ARTICLE = f"/api/v1/articles/{SLUG}"
FILE_SUMMARY = "Opioid painkillers such as OxyContin have only a limited, short-term place"
API_SUMMARY = "Opioids, reviewed by our pharmacist in 2026."


@pytest.fixture(name="loaded")
def fixture_loaded(database_url: str, content_copy: Path) -> Editing:
    """A fresh database holding the demo, loaded from ``content_copy``, with tokens."""
    assert load(database_url, content_copy).exit_code == 0
    return Editing(url=database_url, secrets=mint_tokens(database_url))


@pytest.fixture(name="client")
def fixture_client(loaded: Editing) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(loaded.settings(scheduler_interval=0))) as client:
        yield client


def load(url: str, folder: Path, *options: str) -> Result:
    return run_cms(url, "content", "load", *options, str(folder))


def publish_change(
    client: TestClient[Any], editing: Editing, path: str = ARTICLE, **patch: Any
) -> dict[str, Any]:
    """PATCH the working copy at ``path``, then publish it, as the editor; the result."""
    _doc, etag = read_entry_as(client, editing, path)
    changed = client.patch(path, json=patch, headers={**editing.auth("editor"), "If-Match": etag})
    assert changed.status_code == 200, changed.text
    slug = changed.json()["slug"]  # the patch may rename it
    published, _etag = step(client, editing, slug, "publish", changed.headers["etag"])
    return published


def public(client: TestClient[Any], path: str = ARTICLE) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def summary_line(result: Result) -> str:
    """The last line of standard output: ``N created, N updated, ...``."""
    return result.stdout.strip().splitlines()[-1]


def test_a_second_load_keeps_what_an_editor_published(
    loaded: Editing, client: TestClient[Any], content_copy: Path
) -> None:
    published = publish_change(client, loaded, summary=API_SUMMARY)
    assert public(client)["summary"] == API_SUMMARY

    again = load(loaded.url, content_copy)
    assert again.exit_code == 0, again.output
    total = sum(1 for _ in content_copy.glob("*/*.md"))
    assert summary_line(again) == (
        f"0 created, 0 updated, {total - 1} unchanged, 1 kept (changed in the database)"
    )
    assert "CONFLICT" not in again.output
    kept = re.search(rf"^  (\S+{SLUG}\.md): (.*)$", again.stderr, re.MULTILINE)
    assert kept is not None, again.stderr
    assert kept[1] == str(content_copy / "articles" / f"{SLUG}.md")
    assert kept[2].startswith(f"version {published['version']} of ")
    assert "(publish by token 'editor'" in kept[2]

    after = public(client)
    assert after["summary"] == API_SUMMARY
    assert after["version"] == published["version"]
    # And the next load says the same: nothing is lost by repeating it.
    assert "1 kept" in summary_line(load(loaded.url, content_copy))
    assert public(client)["summary"] == API_SUMMARY


def test_a_file_changed_too_is_a_conflict_naming_the_file_and_both_versions(
    loaded: Editing, client: TestClient[Any], content_copy: Path
) -> None:
    loaded_version = public(client)["version"]
    published = publish_change(client, loaded, summary=API_SUMMARY)
    path = content_copy / "articles" / f"{SLUG}.md"
    edit_entry(path, summary="A summary edited in the file.")

    result = load(loaded.url, content_copy)
    assert result.exit_code == 0, result.output  # `make run` goes on to serve
    assert summary_line(result).endswith("unchanged, 1 conflict(s)")
    assert "0 updated" in summary_line(result)
    lines = result.stderr.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("CONFLICT: 1 file(s)"))
    assert lines[header + 1] == f"  {path}"
    database = lines[header + 2]
    assert database.startswith(f"    database: version {published['version']} of ")
    assert "publish by token 'editor'" in database
    assert lines[header + 3].startswith(
        f"    file:     changed since it was loaded at version {loaded_version} ("
    )
    assert lines[header + 3].endswith("; it differs in summary")
    assert f"cms content load --force {content_copy}" in result.stderr

    assert public(client)["summary"] == API_SUMMARY
    # A conflict stands until someone decides: the next load reports it again.
    assert "1 conflict(s)" in summary_line(load(loaded.url, content_copy))
    assert public(client)["summary"] == API_SUMMARY


def test_force_takes_the_file(loaded: Editing, client: TestClient[Any], content_copy: Path) -> None:
    published = publish_change(client, loaded, summary=API_SUMMARY)
    edit_entry(content_copy / "articles" / f"{SLUG}.md", summary="Edited in the file.")
    assert "1 conflict(s)" in summary_line(load(loaded.url, content_copy))

    forced = load(loaded.url, content_copy, "--force")
    assert forced.exit_code == 0, forced.output
    assert summary_line(forced).startswith("0 created, 1 updated, ")
    after = public(client)
    assert after["summary"] == "Edited in the file."
    assert after["version"] == published["version"] + 1
    # The file is now what the folder last saw: the next load has nothing to do.
    assert "0 updated" in summary_line(load(loaded.url, content_copy))
    assert "kept" not in load(loaded.url, content_copy).output


def test_force_takes_a_file_that_did_not_change(
    loaded: Editing, client: TestClient[Any], content_copy: Path
) -> None:
    publish_change(client, loaded, summary=API_SUMMARY)
    forced = load(loaded.url, content_copy, "--force")
    assert summary_line(forced).startswith("0 created, 1 updated, ")
    assert public(client)["summary"].startswith(FILE_SUMMARY)


def test_a_file_edited_after_a_dump_updates_its_entry(
    loaded: Editing, client: TestClient[Any], content_copy: Path
) -> None:
    publish_change(client, loaded, summary=API_SUMMARY)
    dumped = run_cms(loaded.url, "content", "dump", str(content_copy))
    assert dumped.exit_code == 0, dumped.output
    path = content_copy / "articles" / f"{SLUG}.md"
    assert f"summary: {API_SUMMARY}" in path.read_text()
    # Loading what was just dumped changes nothing.
    assert summary_line(load(loaded.url, content_copy)).startswith("0 created, 0 updated, ")

    edit_entry(path, title="Opioids and back pain: what to know")
    result = load(loaded.url, content_copy)
    assert result.exit_code == 0, result.output
    assert summary_line(result).startswith("0 created, 1 updated, ")
    assert "kept" not in result.output
    assert "CONFLICT" not in result.output
    after = public(client)
    assert after["title"] == "Opioids and back pain: what to know"
    assert after["summary"] == API_SUMMARY


def test_a_dump_into_another_folder_does_not_stand_for_the_content_folder(
    loaded: Editing, client: TestClient[Any], content_copy: Path, tmp_path: Path
) -> None:
    publish_change(client, loaded, summary=API_SUMMARY)
    assert run_cms(loaded.url, "content", "dump", str(tmp_path / "backup")).exit_code == 0
    result = load(loaded.url, content_copy)
    assert "1 kept" in summary_line(result)
    assert public(client)["summary"] == API_SUMMARY


def test_an_entry_deleted_through_the_api_is_not_brought_back(
    loaded: Editing, client: TestClient[Any], content_copy: Path
) -> None:
    # An entry nothing refers to, so that it may be deleted.
    path = content_copy / "articles" / "a-note.md"
    path.write_text("---\ntitle: A note\nstatus: published\n---\n\nShort.\n", encoding="utf-8")
    assert summary_line(load(loaded.url, content_copy)).startswith("1 created, 0 updated")
    _doc, etag = read_entry_as(client, loaded, "/api/v1/articles/a-note")
    deleted = client.delete(
        "/api/v1/articles/a-note", headers={**loaded.auth("editor"), "If-Match": etag}
    )
    assert deleted.status_code == 204, deleted.text

    kept = load(loaded.url, content_copy)
    assert summary_line(kept).startswith("0 created, 0 updated")
    assert f"  {path}: deleted in the database" in kept.stderr
    assert client.get("/api/v1/articles/a-note").status_code == 404

    edit_entry(path, title="A longer note")
    conflict = load(loaded.url, content_copy)
    assert "1 conflict(s)" in summary_line(conflict)
    assert "    database: deleted in the database" in conflict.stderr
    assert client.get("/api/v1/articles/a-note").status_code == 404

    forced = load(loaded.url, content_copy, "--force")
    assert summary_line(forced).startswith("1 created, 0 updated")
    assert public(client, "/api/v1/articles/a-note")["title"] == "A longer note"


def test_an_entry_renamed_through_the_api_is_kept(
    loaded: Editing, client: TestClient[Any], content_copy: Path
) -> None:
    publish_change(client, loaded, slug="opioids-explained")
    kept = load(loaded.url, content_copy)
    assert kept.exit_code == 0, kept.output
    assert summary_line(kept).startswith("0 created, 0 updated")
    assert "renamed to 'opioids-explained' in the database" in kept.stderr
    assert client.get("/api/v1/articles/opioids-explained").status_code == 200

    # Forcing cannot put the file's slug back on its own: it says what to do.
    forced = load(loaded.url, content_copy, "--force")
    assert forced.exit_code == 1
    assert "rename the file to opioids-explained.md" in forced.stderr


def test_allowing_broken_links_does_not_take_files_over_the_database(
    loaded: Editing, client: TestClient[Any], content_copy: Path
) -> None:
    publish_change(client, loaded, summary=API_SUMMARY)
    edit_entry(content_copy / "articles" / f"{SLUG}.md", summary="Edited in the file.")
    broken = content_copy / "articles" / "how-acupuncture-may-ease-back-pain.md"
    edit_entry(broken, body="See [gout](cms:condition/gout).")
    assert load(loaded.url, content_copy).exit_code == 1  # refused: a broken link

    result = load(loaded.url, content_copy, "--allow-broken-links")
    assert result.exit_code == 0, result.output
    assert "1 broken internal link(s), loaded anyway" in result.stderr
    assert summary_line(result).startswith("0 created, 1 updated, ")
    assert "1 conflict(s)" in summary_line(result)
    assert public(client)["summary"] == API_SUMMARY


def test_an_upgraded_database_keeps_what_editors_changed(
    loaded: Editing, client: TestClient[Any], content_copy: Path
) -> None:
    """A database loaded before migration 0007 has no record of what its folder said:
    entries whose current version a load wrote take their files, the others are kept."""
    publish_change(client, loaded, summary=API_SUMMARY)
    downgrade(loaded.url, "0006")
    upgrade(loaded.url)
    edit_entry(content_copy / "clinics" / "calgary.md", title="Calgary downtown")

    result = load(loaded.url, content_copy)
    assert result.exit_code == 0, result.output
    assert summary_line(result).startswith("0 created, 1 updated, ")
    assert "1 conflict(s)" in summary_line(result)
    assert "file:     not loaded from here before; it differs in summary" in result.stderr
    assert public(client)["summary"] == API_SUMMARY
    assert public(client, "/api/v1/clinics/calgary")["title"] == "Calgary downtown"


def test_an_etag_in_the_front_matter_is_read_past(database_url: str, content_copy: Path) -> None:
    path = content_copy / "articles" / f"{SLUG}.md"
    edit_entry(path, etag='"3a5c"')
    result = load(database_url, content_copy)
    assert result.exit_code == 0, result.output
    with TestClient(create_app(Editing(url=database_url, secrets={}).settings())) as client:
        assert public(client)["summary"].startswith(FILE_SUMMARY)
