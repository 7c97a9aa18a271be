"""The API's JSON: msgspec's encoding, with the characters that mean something to HTML escaped.

Entries' text ends up in HTML pages: ``json_ld`` in a ``<script
type="application/ld+json">`` element, titles and summaries in a site's
templates. Inside a script element, ``</script>`` in a title ends the element
and ``<!--`` changes how it ends; U+2028 and U+2029 end a line in older
JavaScript. So every answer that carries entries is encoded here, with
``<``, ``>``, ``&``, U+2028 and U+2029 written as ``\\u003c``, ``\\u003e``,
``\\u0026``, ``\\u2028`` and ``\\u2029`` (as Go's ``encoding/json`` does by
default): any JSON parser reads the same strings, and the JSON text, as
sent, can be placed in a script element without ending it. A client that
parses an answer and serialises part of it again (``json_ld``) must escape
the same way: ``docs/api.md`` says how.

Those five characters appear in JSON text only inside strings (msgspec
writes a backslash as ``\\\\``, and U+2028 and U+2029 as their UTF-8 bytes),
so replacing their bytes keeps the document valid and its meaning unchanged.
"""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_ESCAPES: tuple[tuple[bytes, bytes], ...] = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def html_safe(body: bytes) -> bytes:
    """JSON text ``body`` with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped."""
    for raw, escaped in _ESCAPES:
        if raw in body:
            body = body.replace(raw, escaped)
    return body


def encode_json(value: Any) -> bytes:
    """``value`` as the API sends JSON: :func:`msgspec.json.encode`, then :func:`html_safe`."""
    return html_safe(_encoder.encode(value))
