"""The README's "Try it" examples, run as a reader runs them: with curl, against `cms serve`.

The commands are read from README.md itself, so this test breaks when the
README and the product drift apart. Each one runs in bash, as written, with
only the server's address changed (the demo served by a real `cms serve` on
a free loopback port), after the lines before it that set shell variables.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import feedparser
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO, Databases, EditingTemplate
from tests.servers import cms_serve

README_BASE = "http://127.0.0.1:8000"
# curl writes the status and the content type to stderr, so that what the
# command prints (stdout) stays exactly what the reader sees.
WRITE_OUT = "-w '%{stderr}%{http_code} %{content_type}\\n'"
_STATUS_IN_COMMENT = re.compile(r"\b([1-5]\d\d)\b")
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=\$\(")


@dataclass(frozen=True)
class Example:
    """One command of the README, the shell lines it needs, and the status it is said to answer."""

    command: str
    setup: tuple[str, ...]
    status: int | None
    """The status its comment names (a 400, a 304), or None for any 2xx."""


def try_it_examples() -> list[Example]:
    """The curl commands of the README's "Try it" section, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Try it\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    examples: list[Example] = []
    setup: list[str] = []
    comment: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            comment = []
        elif line.startswith("#"):
            comment.append(line)
        elif _ASSIGNMENT.match(line):
            setup.append(line)
        else:
            assert line.startswith("curl "), f"not a curl command: {line}"
            named = _STATUS_IN_COMMENT.findall(" ".join(comment))
            status = int(named[-1]) if named else None
            examples.append(Example(line, tuple(setup), status))
    return examples


EXAMPLES = try_it_examples()


def test_the_readme_has_its_examples() -> None:
    # The parser found the section: a README that lost it would pass vacuously.
    assert len(EXAMPLES) >= 20
    assert {e.status for e in EXAMPLES} >= {None, 304, 400}


@pytest.fixture(name="served", scope="module")
def fixture_served(
    databases: Databases,
    editing_template: EditingTemplate,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A copy of the demo served by `cms serve`; its base URL.

    Copied from the editing template, which no app holds open (PostgreSQL
    copies only a database nobody is connected to; the shared demo app may be).
    """
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (the README's examples are curl commands)")
    env = {**os.environ, "CMS_DATABASE_URL": databases.fresh(editing_template.url)}
    with cms_serve(env, tmp_path_factory.mktemp("readme") / "server.log") as base:
        yield base


def _parse(body: str, content_type: str) -> None:
    """Parse ``body`` as ``content_type`` says it is; raise if it is not."""
    media = content_type.split(";")[0].strip()
    if media == "application/json" or media.endswith("+json"):
        json.loads(body)
    elif media in ("application/atom+xml", "application/rss+xml"):
        parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
    elif media == "text/plain":  # Prometheus' text format (/metrics)
        assert list(text_string_to_metric_families(body))
    else:
        raise AssertionError(f"unexpected content type {content_type!r}")


def _example_id(example: Example) -> str:
    found = re.search(re.escape(README_BASE) + r"([^'\"\s]*)", example.command)
    return found.group(1) if found else example.command


@pytest.mark.parametrize("example", EXAMPLES, ids=[_example_id(e) for e in EXAMPLES])
def test_a_readme_example_works_as_written(served: str, example: Example) -> None:
    command = example.command.replace("curl ", f"curl {WRITE_OUT} ", 1)
    script = "\n".join(("set -e -o pipefail", *example.setup, command))
    done = subprocess.run(
        ["bash", "-c", script.replace(README_BASE, served)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status_text, _, content_type = done.stderr.strip().splitlines()[-1].partition(" ")
    status = int(status_text)
    if example.status is None:
        assert 200 <= status < 300, (status, done.stdout)
    else:
        assert status == example.status, (status, done.stdout)
    assert done.stdout.strip(), "an empty answer"
    if status == 304:
        # No body: the command shows the status line.
        assert done.stdout.split()[:2] == ["HTTP/1.1", "304"], done.stdout
    else:
        _parse(done.stdout, content_type)
