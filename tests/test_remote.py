"""`cms remote pull|push` through the real command line, against a uvicorn process.

Each test pulls and pushes entries no other test of the module changes (the
module shares one server: :func:`tests.live.fixture_live`).
"""

from __future__ import annotations

from pathlib import Path

import frontmatter
from click.testing import CliRunner, Result

from cms.cli import main
from tests.conftest import edit_entry
from tests.live import Live, fixture_live  # noqa: F401  (the `live` fixture)


def remote(*args: str, token: str | None, url: str | None = None) -> Result:
    """`cms remote ...` with CMS_TOKEN (and CMS_URL) set as given, or unset."""
    return CliRunner().invoke(main, ["remote", *args], env={"CMS_TOKEN": token, "CMS_URL": url})


def pulled(live: Live, key: str, folder: Path, token: str = "editor") -> Path:
    result = remote("pull", live.base, key, "--into", str(folder), token=live.secrets[token])
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.removeprefix("wrote ").strip())
    assert path.is_file()
    return path


def without_etag(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("etag:"))


def test_pull_writes_the_file_content_dump_writes_with_the_etag(live: Live, tmp_path: Path) -> None:
    env = {"CMS_DATABASE_URL": live.database_url}
    dumped = CliRunner().invoke(main, ["content", "dump", str(tmp_path / "dump")], env=env)
    assert dumped.exit_code == 0, dumped.output
    files = sorted((tmp_path / "dump").glob("*/*.md"))
    assert len(files) > 20  # every type of the demo
    with live.client("viewer") as cms:
        for dump in files:
            plural, slug = dump.parent.name, dump.stem
            path = pulled(live, f"{plural}/{slug}", tmp_path / "pulled", token="viewer")
            assert path == tmp_path / "pulled" / plural / f"{slug}.md"
            text = path.read_text()
            assert without_etag(text) == dump.read_text(), path
            assert frontmatter.loads(text)["etag"] == cms.get(plural, slug).etag
    # The type may be named by its name or its plural.
    again = pulled(live, f"article/{files[0].stem}", tmp_path / "again")
    assert again.parent.name == "articles"


def test_pull_edit_push(live: Live, tmp_path: Path) -> None:
    key = "articles/causes-of-low-back-pain-and-sciatica"
    path = pulled(live, key, tmp_path)
    with live.client("editor") as cms:
        before = cms.get("articles", path.stem)

        # Pushing what was pulled changes nothing.
        same = remote("push", str(path), "--url", live.base, token=live.secrets["editor"])
        assert same.exit_code == 0, same.output
        assert same.stdout.startswith("unchanged")
        assert cms.get("articles", path.stem) == before

        edit_entry(path, body="## Causes\n\nRewritten in a file.\n", title="What causes sciatica")
        pushed = remote("push", str(path), token=live.secrets["editor"], url=live.base)
        assert pushed.exit_code == 0, pushed.output
        after = cms.get("articles", path.stem)
        assert after.title == "What causes sciatica"
        assert (after.version, after.status) == (before.version + 1, "draft")
        assert after.body == "## Causes\n\nRewritten in a file."
        assert after["author"] == before["author"]  # what the file did not change stays
        assert after.published_version == before.version  # the public still reads the old one
        assert f"version {after.version} (draft)" in pushed.stdout

        # The file now says what the server says, with the new ETag: push again, nothing.
        written = frontmatter.loads(path.read_text())
        assert written["etag"] == after.etag
        assert "status" not in written.metadata  # a draft, the default
        assert remote("push", str(path), token=live.secrets["editor"],
                      url=live.base).stdout.startswith("unchanged")  # fmt: skip
        assert cms.get("articles", path.stem).etag == after.etag


def test_a_concurrent_change_answers_a_diff_and_changes_nothing(live: Live, tmp_path: Path) -> None:
    path = pulled(live, "conditions/sciatica", tmp_path)
    with live.client("admin") as other:
        theirs = other.patch(other.get("conditions", "sciatica"), {"summary": "Changed by admin."})
    edit_entry(path, title="Sciatica (nerve pain)")
    mine = path.read_text()

    result = remote("push", str(path), token=live.secrets["editor"], url=live.base)
    assert result.exit_code == 1
    assert "changed on the server since it was pulled" in result.stderr
    assert f"version {theirs.version}" in result.stderr
    diff = result.stdout.splitlines()
    assert diff[0].startswith("--- ")
    assert diff[0].endswith(f"(version {theirs.version}, on the server)")
    assert diff[1] == f"+++ {path} (yours)"
    assert "-summary: Changed by admin." in diff
    assert "+title: Sciatica (nerve pain)" in diff
    assert "-title: Sciatica" in diff
    assert not [line for line in diff if "etag" in line]

    assert path.read_text() == mine  # the file is left alone
    with live.client("viewer") as cms:
        now = cms.get("conditions", "sciatica")
        assert now == theirs
        assert now.title == "Sciatica"


def test_what_cannot_be_pulled_or_pushed_is_said_plainly(live: Live, tmp_path: Path) -> None:
    no_token = remote("pull", live.base, "articles/opioids-and-back-pain", token=None)
    assert no_token.exit_code == 2
    assert "no token: pass --token or set CMS_TOKEN" in no_token.output
    path = pulled(live, "articles/opioids-and-back-pain", tmp_path)
    assert "no token" in remote("push", str(path), token=None, url=live.base).output
    no_url = remote("push", str(path), token=live.secrets["editor"])
    assert no_url.exit_code == 2
    assert "--url" in no_url.output

    bad = remote("pull", live.base, "articles/opioids-and-back-pain", token="cms_0_not-a-token")
    assert bad.exit_code == 1
    assert "401" in bad.output
    for key, says in [
        ("opioids-and-back-pain", "name the entry as TYPE/SLUG"),
        ("recipes/soup", "no type 'recipes' here"),
        ("articles/no-such-article", "404"),
    ]:
        result = remote(
            "pull", live.base, key, "--into", str(tmp_path), token=live.secrets["editor"]
        )
        assert result.exit_code == 1, key
        assert says in result.output, key
    assert "not an http(s) URL" in remote("pull", "ftp://x", "articles/x", token="t").output

    with live.client("editor") as cms:
        before = cms.get("articles", path.stem)
        edit_entry(path, title="", etag=None)
        no_etag = remote("push", str(path), token=live.secrets["editor"], url=live.base)
        assert no_etag.exit_code == 1
        assert "no `etag` in its front matter" in no_etag.output
        edit_entry(path, etag=before.etag)
        invalid = remote("push", str(path), token=live.secrets["editor"], url=live.base)
        assert invalid.exit_code == 1
        assert f"{path}: title:" in invalid.output
        assert cms.get("articles", path.stem) == before

        elsewhere = tmp_path / "notes.md"
        elsewhere.write_text(path.read_text())
        result = remote("push", str(elsewhere), token=live.secrets["editor"], url=live.base)
        assert result.exit_code == 1
        assert "<folder>/<plural>/<slug>.md" in result.output
