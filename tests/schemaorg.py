"""schema.org for offline JSON-LD checks: the vocabulary's terms and a context that maps them.

The term list comes from rdflib's schema.org namespace (generated from
schema.org's own vocabulary file), so the tests check our documents against a
source we do not write. The context maps every term to its schema.org IRI and
nothing else: a term that is not schema.org's is dropped when a document is
expanded, which the tests detect. pyld fetches ``https://schema.org`` through
:func:`document_loader`, which serves that context and never the network.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rdflib.namespace import SDO

SCHEMA = "http://schema.org/"
# Terms rdflib cannot spell as Python names.
_UNSPELLABLE = frozenset({"3DModel", "True", "False", "yield"})
# Terms of schema.org that rdflib's generated list (2021-12) leaves out; each
# is checked against its page: https://schema.org/cause ("The cause of a
# medical condition", on MedicalCondition, inverse of causeOf).
_MISSING_FROM_RDFLIB = frozenset({"cause"})
# Properties whose values are IRIs, as schema.org's own context declares them.
_IRI_VALUED = frozenset({"url", "sameAs", "additionalType"})
CONTEXT_URLS = frozenset(
    {"https://schema.org", "https://schema.org/", "http://schema.org", "http://schema.org/"}
)


@cache
def terms() -> frozenset[str]:
    """Every schema.org type, property and enumeration member."""
    names = {name for name in SDO.__annotations__ if not name.startswith("_")}
    return frozenset(names | _UNSPELLABLE | _MISSING_FROM_RDFLIB)


@cache
def context() -> dict[str, Any]:
    """A JSON-LD context mapping exactly the schema.org terms (no ``@vocab``)."""
    mapping: dict[str, Any] = {"schema": SCHEMA}
    for term in terms():
        mapping[term] = {"@id": f"schema:{term}"}
        if term in _IRI_VALUED:
            mapping[term]["@type"] = "@id"
    return {"@context": mapping}


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld's document loader: the schema.org context, and nothing from the network."""
    if url not in CONTEXT_URLS:
        raise OSError(f"offline: refusing to fetch {url}")
    return {"contextUrl": None, "documentUrl": url, "document": context()}
