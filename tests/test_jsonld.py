"""schema.org JSON-LD on every detail: valid JSON-LD, schema.org terms only, the right facts.

Documents are expanded and converted to RDF with pyld, offline (see
``tests/schemaorg.py``). Expected facts come from the content files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import frontmatter
import msgspec
import pytest
from litestar.testing import TestClient
from pyld import jsonld

from cms.app import create_app
from cms.contenttypes import ContentType, Relation
from cms.editorial.content_files import ContentError
from cms.hookspecs import hookimpl
from cms.jsonld import LdEntry, Node
from cms.schemas import Base, Slug
from cms.settings import Settings
from tests import schemaorg
from tests.conftest import CONTENT, Editing, create_article, load_folder, step, write_entry

OPTIONS = {"documentLoader": schemaorg.document_loader}
# The core types and the first-party plugins' (the demo enables them).
TYPES = ("clinics", "practitioners", "conditions", "articles", "case-stories", "series")


def _statements(value: Any) -> int:
    """Property values and types in a JSON-LD tree, counting every value of a list."""
    if isinstance(value, list):
        return sum(_statements(v) for v in value)
    if not isinstance(value, dict):
        return 0
    count = 0
    for key, item in value.items():
        if key == "@type":
            count += len(item) if isinstance(item, list) else 1
        elif key in {"@graph", "@list"}:
            count += _statements(item)
        elif not key.startswith("@"):
            values = item if isinstance(item, list) else [item]
            count += len(values) + sum(_statements(v) for v in values)
    return count


def _terms(value: Any) -> set[str]:
    """Every property name and type name a JSON-LD tree uses."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _terms(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "@type":
                found |= set(item if isinstance(item, list) else [item])
            elif not key.startswith("@"):
                found.add(key)
            found |= _terms(item)
    return found


def check_json_ld(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand ``document``, checking it is JSON-LD and uses schema.org terms only.

    Returns:
        Its nodes, expanded.
    """
    assert document["@context"] == "https://schema.org"
    unknown = _terms(document) - schemaorg.terms()
    assert not unknown, f"not schema.org terms: {unknown}"
    expanded: list[dict[str, Any]] = jsonld.expand(document, OPTIONS)
    # The context maps schema.org terms only: had any been dropped, fewer would remain.
    assert _statements(expanded) == _statements(document)
    quads = jsonld.to_rdf(document, {**OPTIONS, "format": "application/n-quads"})
    predicates = {line.split(" ")[1] for line in quads.splitlines()}
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    assert predicates
    assert all(p == rdf_type or p.startswith(f"<{schemaorg.SCHEMA}") for p in predicates)
    return expanded


def main_node(entry: dict[str, Any]) -> dict[str, Any]:
    """The node that describes the entry itself: the first of its graph."""
    node: dict[str, Any] = entry["json_ld"]["@graph"][0]
    return node


def meta(plural: str, slug: str) -> dict[str, Any]:
    """The front matter of a demo content file."""
    return dict(frontmatter.load(CONTENT / plural / f"{slug}.md").metadata)


def listify(value: Any) -> list[Any]:
    """A JSON-LD value as a list."""
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("plural", TYPES)
def test_every_detail_carries_valid_schema_org_json_ld(demo: TestClient[Any], plural: str) -> None:
    for item in demo.get(f"/api/v1/{plural}?limit=100").json()["data"]:
        entry = demo.get(f"/api/v1/{plural}/{item['slug']}").json()
        check_json_ld(entry["json_ld"])
        node = main_node(entry)
        assert node["@id"] == f"{entry['canonical_url']}#{entry['type']}"
        assert node.get("url", entry["canonical_url"]) == entry["canonical_url"]
        assert "json_ld" not in item, "list items leave the JSON-LD to details"


def test_clinics_are_medical_clinics_with_address_geo_and_hours(demo: TestClient[Any]) -> None:
    entry = demo.get("/api/v1/clinics/calgary").json()
    facts = meta("clinics", "calgary")
    node = main_node(entry)
    assert node["@type"] == "MedicalClinic"
    assert node["address"] == {
        "@type": "PostalAddress", "streetAddress": facts["address"], "addressLocality": "Calgary",
        "addressRegion": "AB", "postalCode": facts["postal_code"], "addressCountry": "CA",
    }  # fmt: skip
    assert node["geo"] == {"@type": "GeoCoordinates", **facts["geo"]}
    hours = node["openingHoursSpecification"]
    assert [(h["opens"], h["closes"]) for h in hours] == [
        (str(h["opens"]), str(h["closes"])) for h in facts["opening_hours"]
    ]
    assert hours[0]["dayOfWeek"][0] == "https://schema.org/Monday"
    assert node["telephone"] == facts["phone"]
    assert node["potentialAction"]["target"]["urlTemplate"] == facts["booking_url"]


def test_practitioners_are_people_with_credentials(demo: TestClient[Any]) -> None:
    entry = demo.get("/api/v1/practitioners/lena-marchetti").json()
    facts = meta("practitioners", "lena-marchetti")
    node = main_node(entry)
    assert node["@type"] == "Person"
    assert node["name"] == entry["title"]
    assert node["jobTitle"] == facts["role"]
    assert [c["name"] for c in node["hasCredential"]] == facts["credentials"]
    assert all(c["@type"] == "EducationalOccupationalCredential" for c in node["hasCredential"])
    assert node["honorificSuffix"] == ", ".join(facts["credentials"])
    assert [c["@type"] for c in node["worksFor"]] == ["MedicalClinic"] * len(facts["clinics"])
    assert {c["name"] for c in node["knowsAbout"]} == {
        meta("conditions", slug)["title"] for slug in facts["specialties"]
    }


def test_conditions_are_medical_conditions_with_a_faq_page(demo: TestClient[Any]) -> None:
    entry = demo.get("/api/v1/conditions/sciatica").json()
    facts = meta("conditions", "sciatica")
    condition, page, faq = entry["json_ld"]["@graph"]
    assert condition["@type"] == "MedicalCondition"
    assert [s["name"] for s in condition["signOrSymptom"]] == facts["symptoms"]
    assert [c["name"] for c in condition["cause"]] == facts["causes"]
    assert len(condition["possibleTreatment"]) == len(facts["modalities"])
    assert all(t["@type"] == "MedicalTherapy" for t in condition["possibleTreatment"])
    assert page["@type"] == "MedicalWebPage"
    assert page["about"] == {"@id": condition["@id"]}
    assert page["lastReviewed"] == str(facts["last_reviewed"])
    assert page["reviewedBy"]["name"] == meta("practitioners", facts["reviewed_by"])["title"]
    assert faq["@type"] == "FAQPage"
    assert [(q["name"], q["acceptedAnswer"]["text"]) for q in faq["mainEntity"]] == [
        (pair["question"], pair["answer"]) for pair in facts["faq"]
    ]


def test_articles_are_medical_web_pages_with_author_topics_and_review(
    demo: TestClient[Any],
) -> None:
    slug = "causes-of-low-back-pain-and-sciatica"
    entry = demo.get(f"/api/v1/articles/{slug}").json()
    facts = meta("articles", slug)
    node = main_node(entry)
    assert set(node["@type"]) == {"Article", "MedicalWebPage"}
    assert node["headline"] == entry["title"]
    assert node["author"]["@type"] == "Person"
    assert node["author"]["name"] == meta("practitioners", facts["author"])["title"]
    author = demo.get(f"/api/v1/practitioners/{facts['author']}").json()
    assert node["author"]["@id"] == main_node(author)["@id"]  # the same node on both pages
    assert [c["name"] for c in node["about"]] == [
        meta("conditions", c)["title"] for c in facts["conditions"]
    ]
    assert node["lastReviewed"] == str(facts["last_reviewed"])
    assert node["reviewedBy"]["name"] == meta("practitioners", facts["reviewed_by"])["title"]
    assert node["datePublished"] == entry["published_at"]
    assert node["publisher"]["@type"] == "MedicalClinic"


# --- a plugin type: containers and their parts ----------------------------------


class CollectionFields(Base):
    """A throwaway plugin type: an ordered collection of articles."""

    parts: list[Slug] = []


def collection_json_ld(entry: LdEntry) -> list[Node]:
    """The plugin's own mapping."""
    return [{"@type": "CreativeWorkSeries", "@id": entry.node_id, **entry.page()}]


class CollectionsPlugin:
    """Declares a type whose parts are articles: they are part of it, in JSON-LD too."""

    name = "collections"

    @hookimpl
    def register_content_types(self) -> Sequence[ContentType]:
        return [ContentType(
            name="collection", plural="collections", fields=CollectionFields,
            label="Collection", description="Articles in order.",
            relations={"parts": Relation(target="article", many=True, has_part=True)},
            json_ld_type="CreativeWorkSeries", json_ld=collection_json_ld,
        )]  # fmt: skip


def test_parts_of_a_plugin_container_say_what_they_are_part_of(
    database_url: str, content_copy: Path
) -> None:
    first, second = "opioids-and-back-pain", "how-acupuncture-may-ease-back-pain"
    path = write_entry(
        content_copy, "collections", "pain-basics", "Start here.", title="Pain basics",
        status="published", clinics=["calgary"], parts=[first, second],
    )  # fmt: skip
    plugins = [CollectionsPlugin()]
    load_folder(database_url, content_copy, plugins)
    settings = Settings(database_url=database_url)
    with TestClient(create_app(settings, plugins=[CollectionsPlugin()])) as client:
        collection = client.get("/api/v1/collections/pain-basics").json()
        check_json_ld(collection["json_ld"])
        node = main_node(collection)
        assert node["@type"] == "CreativeWorkSeries"
        assert [p["@type"] for p in node["hasPart"]] == ["Article", "Article"]
        for slug in (first, second):
            article = client.get(f"/api/v1/articles/{slug}").json()
            check_json_ld(article["json_ld"])
            assert listify(main_node(article)["isPartOf"]) == [
                {"@type": "CreativeWorkSeries", "@id": node["@id"], "name": "Pain basics"}
            ]
        # Dropping a part takes isPartOf off that article, which itself did not change.
        write_entry(content_copy, "collections", "pain-basics", "Start here.",
                    title="Pain basics", status="published", clinics=["calgary"],
                    parts=[second])  # fmt: skip
        load_folder(database_url, content_copy, plugins)
        assert "isPartOf" not in main_node(client.get(f"/api/v1/articles/{first}").json())
        assert "isPartOf" in main_node(client.get(f"/api/v1/articles/{second}").json())
    assert path.exists()


def test_a_failing_mapping_stops_the_write_naming_its_plugin(
    database_url: str, tmp_path: Path
) -> None:
    def broken(entry: LdEntry) -> list[Node]:
        raise KeyError("headline")

    class Broken:
        name = "broken-ld"

        @hookimpl
        def register_content_types(self) -> Sequence[ContentType]:
            return [ContentType(name="memo", plural="memos", fields=CollectionFields,
                                label="Memo", description="x", json_ld=broken)]  # fmt: skip

    write_entry(tmp_path / "content", "memos", "first", title="First", status="published")
    with pytest.raises(ContentError, match=r"plugin 'broken-ld'.*memo failed on 'first'"):
        load_folder(database_url, tmp_path / "content", [Broken()])
    with TestClient(create_app(Settings(database_url=database_url), plugins=[Broken()])) as c:
        assert c.get("/api/v1/memos").json()["data"] == []


# --- Embedding -------------------------------------------------------------------------
# Issue 15, finding 8: a title reading `</script>...` reached `json_ld` as it
# was, while the docs said it was ready to embed in a script element.

HOSTILE_TITLE = "</script><script>alert(1)</script> <!-- & \u2028\u2029 </SCRIPT >"


class _Page(HTMLParser):
    """The script elements of a page and the text of each, as a browser splits them."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.inside = False
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append("")
            self.inside = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.scripts[-1] += data


def _embeds_safely(body: bytes) -> dict[str, Any]:
    """``json_ld`` of an answer, checked to stay one script element when embedded as sent."""
    for raw in (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode()):
        assert raw not in body, raw  # anywhere in the answer, escaped as \u003c...
    sent = msgspec.json.decode(body, type=dict[str, msgspec.Raw])["json_ld"]
    page = f'<script type="application/ld+json">{bytes(sent).decode()}</script><p>after</p>'
    scripts = _Page(page).scripts
    assert len(scripts) == 1, scripts
    document: dict[str, Any] = json.loads(scripts[0])
    return document


def test_json_ld_as_sent_embeds_in_a_script_element(
    client: TestClient[Any], editing: Editing
) -> None:
    draft, etag = create_article(client, editing, HOSTILE_TITLE, summary=HOSTILE_TITLE)
    step(client, editing, draft["slug"], "publish", etag)
    path = f"/api/v1/articles/{draft['slug']}"
    for headers in ({}, editing.auth("editor")):  # the public document, the working copy
        response = client.get(path, headers={**headers, "Accept-Encoding": "identity"})
        assert response.status_code == 200
        document = _embeds_safely(response.content)
        assert document == response.json()["json_ld"]
        node = document["@graph"][0]
        assert (node["name"], node["headline"], node["description"]) == (HOSTILE_TITLE,) * 3
