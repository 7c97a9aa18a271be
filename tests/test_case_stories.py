"""The case_stories plugin: the case-story type, its filters and its publish rules.

The publish rules are tested through `cms content load`, the path that
publishes today: a refused publish lists every reason and writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import frontmatter
import pytest
from click.testing import CliRunner, Result
from litestar.testing import TestClient

from cms.app import create_app
from cms.cli import main
from cms.settings import Settings
from tests.conftest import CONTENT

STORIES = CONTENT / "case-stories"
STORY = "back-pain-after-a-car-accident"


def cms(url: str, *args: str, **env: str) -> Result:
    """Run the `cms` command with ``url`` as its database and the installed plugins."""
    return CliRunner().invoke(main, list(args), env={"CMS_DATABASE_URL": url, **env})


def _front_matter(plural: str, slug: str) -> dict[str, Any]:
    return dict(frontmatter.load(CONTENT / plural / f"{slug}.md").metadata)


def test_the_demo_stories_are_served_flat(demo: TestClient[Any]) -> None:
    listed = demo.get("/api/v1/case-stories?limit=100").json()["data"]
    assert {s["slug"] for s in listed} == {p.stem for p in STORIES.glob("*.md")}
    story = demo.get(f"/api/v1/case-stories/{STORY}").json()
    assert story["type"] == "case-story"
    # Type-specific fields sit beside the common ones.
    assert story["illustrative"] is True
    assert story["consent_on_file"] is False
    assert story["patient_profile"]["age_range"] == "40s"
    assert story["treatment"]["sessions"] == 10
    assert "electro-acupuncture" in story["treatment"]["modalities"]
    assert story["practitioner"] == {"slug": "lena-marchetti", "title": "Lena Marchetti"}
    assert story["clinic"]["slug"] == "calgary"
    assert {"slug": "chronic-low-back-pain", "title": "Chronic low back pain"} in (
        story["conditions"]
    )
    node = story["json_ld"]["@graph"][0]
    assert node["@type"] == "Article"
    assert node["genre"] == "illustrative example"
    assert node["articleSection"] == "Case stories"
    assert "<h2" in story["body_html"]


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("condition=upper-back-pain", lambda m: "upper-back-pain" in m["conditions"]),
        ("condition=back-strain,upper-back-pain",
         lambda m: {"back-strain", "upper-back-pain"} & set(m["conditions"])),
        ("practitioner=lena-marchetti", lambda m: m["practitioner"] == "lena-marchetti"),
        ("practitioner=maren-holt", lambda m: False),
        ("clinic=calgary", lambda m: "calgary" in m["clinics"]),
        ("condition=chronic-low-back-pain&clinic=edmonton",
         lambda m: "chronic-low-back-pain" in m["conditions"] and "edmonton" in m["clinics"]),
    ],
)  # fmt: skip
def test_filters_by_condition_practitioner_and_clinic(
    demo: TestClient[Any], query: str, predicate: Any
) -> None:
    expected = {
        p.stem for p in STORIES.glob("*.md") if predicate(_front_matter(p.parent.name, p.stem))
    }
    listed = demo.get(f"/api/v1/case-stories?{query}&limit=100").json()["data"]
    assert {s["slug"] for s in listed} == expected


def test_filters_tell_stories_apart(database_url: str, content_copy: Path) -> None:
    # A fourth story, at Edmonton only, by another practitioner, about sciatica.
    text = (STORIES / f"{STORY}.md").read_text()
    text = text.replace(
        "- calgary\n- edmonton\norigin_clinic: calgary", "- edmonton\norigin_clinic: edmonton"
    )
    text = text.replace("practitioner: lena-marchetti", "practitioner: maren-holt")
    text = text.replace("- chronic-low-back-pain\n- low-back-pain\n", "- sciatica\n")
    (content_copy / "case-stories" / "sciatica-in-a-gardener.md").write_text(text)
    assert cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    with TestClient(create_app(Settings(database_url=database_url))) as client:

        def slugs(query: str) -> set[str]:
            return {s["slug"] for s in client.get(f"/api/v1/case-stories?{query}").json()["data"]}

        assert slugs("practitioner=maren-holt") == {"sciatica-in-a-gardener"}
        assert slugs("condition=sciatica") == {"sciatica-in-a-gardener"}
        assert "sciatica-in-a-gardener" not in slugs("clinic=calgary")
        assert "sciatica-in-a-gardener" in slugs("clinic=edmonton")
        assert client.get("/api/v1/case-stories?practitioner=Nope").status_code == 400


# --- Publish rules -------------------------------------------------------------

# (where to put the text, the text, the field named, the reason)
RULES = {
    "e-mail address": ("body", "Write to her at pat.smith@example.org.", "body",
                       "contains an e-mail address (line "),
    "phone number": ("outcome", "She can be reached on 780-555-0143.", "outcome",
                     "contains a phone number"),
    "date of birth": ("patient_profile.lifestyle", "Born on March 3, 1981; drives a van.",
                      "patient_profile.lifestyle", "contains a date of birth"),
    "health card number": ("summary", "Alberta PHN 12345-6789.", "summary",
                           "contains a health card number"),
    "full name from the list": ("trigger", "A collision on the way to see Pat Smith.", "trigger",
                                "contains a full name from the list of names"),
}  # fmt: skip


def _story(folder: Path, *, add: tuple[str, str] | None = None, **meta: Any) -> Path:
    """Rewrite the demo story in ``folder``, adding text to one field and changing others."""
    path = folder / "case-stories" / f"{STORY}.md"
    post = frontmatter.load(path)
    for key, value in meta.items():
        if value is None:
            post.metadata.pop(key, None)
        else:
            post.metadata[key] = value
    if add is not None:
        where, text = add
        if where == "body":
            post.content += "\n\n" + text
        elif "." in where:
            outer, inner = where.split(".")
            post.metadata[outer][inner] += " " + text
        else:
            post.metadata[where] += " " + text
    path.write_text(frontmatter.dumps(post, sort_keys=False) + "\n", encoding="utf-8")
    return path


@pytest.fixture(name="names_file")
def fixture_names_file(tmp_path: Path) -> str:
    path = tmp_path / "names.txt"
    path.write_text("# exported from the booking system\nPat Smith\n\nRobin  Q. Jones\n")
    return str(path)


def _refused(result: Result, path: Path, *reasons: str) -> None:
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output
    for reason in reasons:
        assert f"{path}: {reason}" in result.output, result.output


def _nothing_written(url: str) -> None:
    with TestClient(create_app(Settings(database_url=url))) as client:
        assert client.get("/api/v1/case-stories").json()["data"] == []
        assert client.get("/api/v1/articles").json()["data"] == []


@pytest.mark.parametrize("rule", RULES, ids=list(RULES))
def test_each_identifier_rule_refuses_publishing(
    database_url: str, content_copy: Path, names_file: str, rule: str
) -> None:
    where, text, field, reason = RULES[rule]
    path = _story(content_copy, add=(where, text))
    result = cms(database_url, "content", "load", str(content_copy),
                 CMS_CASE_STORIES_NAMES_FILE=names_file)  # fmt: skip
    _refused(result, path, f"{field}: publishing refused: {reason}")
    assert result.output.count("publishing refused") == 1
    _nothing_written(database_url)


def test_consent_is_needed_unless_the_story_is_illustrative(
    database_url: str, content_copy: Path
) -> None:
    path = _story(content_copy, illustrative=None)
    result = cms(database_url, "content", "load", str(content_copy))
    _refused(
        result, path, "consent_on_file: publishing refused: the patient's consent is not on file"
    )
    _nothing_written(database_url)
    _story(content_copy, consent_on_file=True)
    assert cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        story = client.get(f"/api/v1/case-stories/{STORY}").json()
    assert (story["consent_on_file"], story["illustrative"]) == (True, False)


def test_a_refused_publish_lists_every_reason_and_never_repeats_an_identifier(
    database_url: str, content_copy: Path, names_file: str
) -> None:
    path = content_copy / "case-stories" / f"{STORY}.md"
    for where, text, _field, _reason in RULES.values():
        _story(content_copy, add=(where, text))
    _story(content_copy, illustrative=None)
    result = cms(database_url, "content", "load", str(content_copy),
                 CMS_CASE_STORIES_NAMES_FILE=names_file)  # fmt: skip
    _refused(
        result,
        path,
        "consent_on_file: publishing refused",
        *(f"{field}: publishing refused: {reason}" for _w, _t, field, reason in RULES.values()),
    )
    assert result.output.count("publishing refused") == len(RULES) + 1
    for secret in ("pat.smith@example.org", "555-0143", "1981", "12345-6789", "Pat Smith"):
        assert secret not in result.output
    _nothing_written(database_url)


def test_the_rules_apply_to_scheduled_stories_but_not_to_drafts(
    database_url: str, content_copy: Path
) -> None:
    path = _story(content_copy, add=("body", "Call 403 555 0101."), status="scheduled",
                  published_at="2027-01-11T15:00:00Z")  # fmt: skip
    result = cms(database_url, "content", "load", str(content_copy))
    _refused(result, path, "body: publishing refused: contains a phone number")
    _story(content_copy, status="draft", published_at=None)
    assert cms(database_url, "content", "load", str(content_copy)).exit_code == 0
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get(f"/api/v1/case-stories/{STORY}").status_code == 404


def test_a_names_file_that_cannot_be_read_fails_the_load_naming_the_plugin(
    database_url: str, tmp_path: Path
) -> None:
    result = cms(database_url, "content", "load", str(CONTENT),
                 CMS_CASE_STORIES_NAMES_FILE=str(tmp_path / "missing.txt"))  # fmt: skip
    assert result.exit_code == 1
    assert "plugin 'case_stories' failed in hook on_before_publish" in result.output
    assert "CMS_CASE_STORIES_NAMES_FILE" in result.output
    _nothing_written(database_url)


def test_dates_and_numbers_that_identify_no_one_pass(database_url: str, content_copy: Path) -> None:
    harmless = (
        "Her first visit was on 14 March 2024; she was born in the 1980s and is in her 40s. "
        "Six to 12 sessions, 30 to 45 minutes each, at 615 8 Avenue SW (T2P 1H7) at 18:00; "
        "her health insurance plan covered 6 sessions; pain went from 7 to 2 out of 10."
    )
    _story(content_copy, add=("body", harmless))
    result = cms(database_url, "content", "load", str(content_copy))
    assert result.exit_code == 0, result.output
