"""``cms remote pull|push``: an editor's entry as a content file, over the API, with If-Match.

``pull`` reads an entry's working copy with a token and writes it as the file
``cms content dump`` writes for it (:func:`cms.editorial.content_files.document_file`,
the same serialisation), with one more front-matter line: ``etag``, the ETag
of the working copy it was read from. The file goes where ``content dump``
puts it, ``<folder>/<plural>/<slug>.md``, so the type and slug of a file are
its folder's and its name's, as for ``content load`` (which ignores ``etag``).

``push`` reads the file back, validates it here as a load would, and sends its
fields as one JSON Merge Patch with ``If-Match: <etag>``: every write-side
field the type declares, so a line removed from the file resets that field.
``status`` is not sent (it changes through the workflow steps; any change
makes the entry a draft again). On success the file is written again from
the server's answer: its new ETag, and what the server now says (``status:
draft``). When the entry changed on the server since the file's ETag (a 412),
nothing is changed, neither there nor in the file, and :class:`Stale` carries
a unified diff between the server's version and the file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frontmatter
import msgspec
import yaml

from cms.client import Client, Entry, PreconditionFailed
from cms.contenttypes import ContentType, TypeRegistry
from cms.editorial.content_files import SUFFIX, document_file
from cms.editorial.validation import EntryInput, document_fields, parse_entry
from cms.errors import InvalidEntry
from cms.urls import API

ETAG = "etag"
"""The front-matter key holding the ETag the file was read at."""
NOT_SENT = ("id", "slug", "status")
"""Write-side fields a push leaves out: identity, and the workflow's status."""


class RemoteError(Exception):
    """A pull or push that cannot be done; the message says why, naming the file or entry."""


class Stale(RemoteError):
    """The entry changed on the server since the file was pulled; nothing was changed."""

    def __init__(self, message: str, current: Entry, diff: str) -> None:
        super().__init__(message)
        self.current = current
        """The entry as it is on the server now."""
        self.diff = diff
        """A unified diff from the server's version (as a file) to the file."""


@dataclass(frozen=True)
class Pushed:
    """What a push did."""

    path: Path
    entry: Entry
    """The entry as the server answered the change."""
    changed: bool
    """False when the file said what the server had: no new version."""


def parse_key(types: TypeRegistry, key: str) -> tuple[ContentType, str]:
    """``article/slug`` or ``articles/slug``: the type and the slug.

    Raises:
        RemoteError: not ``TYPE/SLUG``, or a type not enabled here.
    """
    name, _, slug = key.partition("/")
    if not name or not slug or "/" in slug:
        raise RemoteError(f"{key!r}: name the entry as TYPE/SLUG, e.g. article/low-back-pain")
    ctype = types.get(name) or types.by_plural(name)
    if ctype is None:
        known = ", ".join(t.name for t in types)
        raise RemoteError(f"{key!r}: no type {name!r} here (types: {known}; see CMS_PLUGINS)")
    return ctype, slug


def file_path(folder: Path, ctype: ContentType, slug: str) -> Path:
    """Where ``content dump`` writes the entry in ``folder``, and so ``pull``."""
    return folder / ctype.plural / f"{slug}{SUFFIX}"


def entry_text(client: Client, ctype: ContentType, entry: Entry) -> str:
    """The content file of ``entry`` (a working copy as the API answered it), with its ETag.

    A document shows the entry's effective origin clinic (its first clinic when
    it names none); what the entry says is in the write side of its version.

    Raises:
        RemoteError: the entry does not validate with this installation's type.
    """
    raw = document_fields(ctype, entry.document)
    saved = client.get_revision(ctype.plural, entry.slug, entry.version)
    raw["origin_clinic"] = saved.entry.get("origin_clinic")
    inp = _validated(ctype, entry.slug, raw, entry.id, "")
    document = {
        "id": inp.id,
        "slug": inp.slug,
        **msgspec.to_builtins(inp.common),
        **msgspec.to_builtins(inp.fields),
    }
    return document_file(ctype, document, extra={ETAG: entry.etag})


def _without_etag(text: str) -> list[str]:
    """The lines of a pulled file but its ``etag`` line, which always differs in a conflict."""
    return [line for line in text.splitlines(keepends=True) if not line.startswith(f"{ETAG}:")]


def _validated(
    ctype: ContentType, slug: str, raw: dict[str, Any], entry_id: str | None, where: str
) -> EntryInput:
    try:
        return parse_entry(ctype, slug, raw, entry_id=entry_id)
    except InvalidEntry as exc:
        fields = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
        raise RemoteError(f"{where or f'{ctype.name}/{slug}'}: {fields}") from exc


def pull(client: Client, types: TypeRegistry, key: str, folder: Path) -> Path:
    """Write the working copy of ``key`` (``TYPE/SLUG``) into ``folder``; the file's path.

    Raises:
        RemoteError: a bad key or an entry this installation cannot write as a file.
        cms.client.ClientError: the server could not be read (404, 401, ...).
    """
    ctype, slug = parse_key(types, key)
    entry = client.get(ctype.plural, slug)
    path = file_path(folder, ctype, entry.slug)
    text = entry_text(client, ctype, entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read_file(types: TypeRegistry, path: Path) -> tuple[ContentType, EntryInput, str, str]:
    """The file's type, its validated fields, its ETag and its text.

    Raises:
        RemoteError: not under a type's folder, no ETag, not valid.
    """
    ctype = types.by_plural(path.parent.name)
    if path.suffix != SUFFIX or ctype is None:
        raise RemoteError(
            f"{path}: not a content file of an enabled type: push a file as `cms remote pull` "
            "writes it, <folder>/<plural>/<slug>.md"
        )
    try:
        text = path.read_text(encoding="utf-8")
        post = frontmatter.loads(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        raise RemoteError(f"{path}: cannot be read as a content file: {exc}") from exc
    meta = dict(post.metadata)
    etag = meta.pop(ETAG, None)
    if not isinstance(etag, str) or not etag:
        raise RemoteError(
            f"{path}: no `{ETAG}` in its front matter: push only files that "
            "`cms remote pull` wrote, so that no one else's change is overwritten"
        )
    for reserved in ("slug", "body", "type"):
        if reserved in meta:
            raise RemoteError(f"{path}: {reserved}: not allowed in front matter")
    entry_id = meta.pop("id", None)
    meta["body"] = post.content
    inp = _validated(ctype, path.stem, meta, entry_id if isinstance(entry_id, str) else None,
                     str(path))  # fmt: skip
    return ctype, inp, etag, text


def push(client: Client, types: TypeRegistry, path: Path) -> Pushed:
    """Send ``path`` as a merge patch with its ETag; write the server's answer back into it.

    Raises:
        Stale: the entry changed on the server since the file's ETag; nothing changed.
        RemoteError: the file cannot be pushed (named problem).
        cms.client.ClientError: the server refused the change (422, 403, 404 ...).
    """
    ctype, inp, etag, text = read_file(types, path)
    payload = inp.payload()
    changes = {k: v for k, v in payload.items() if k not in NOT_SENT}
    read = Entry(collection=ctype.plural, slug=inp.slug, etag=etag)
    try:
        answer = client.patch(read, changes)
    except PreconditionFailed as exc:
        current = exc.current
        theirs = entry_text(client, ctype, current)
        where = f"{client.base}{API}/{ctype.plural}/{current.slug}"
        diff = "".join(
            difflib.unified_diff(
                _without_etag(theirs),
                _without_etag(text),
                fromfile=f"{where} (version {current.version}, on the server)",
                tofile=f"{path} (yours)",
            )
        )
        raise Stale(
            f"{path}: {ctype.name}/{inp.slug} changed on the server since it was pulled "
            f"(it is at version {current.version} now); nothing was changed, here or there.",
            current,
            diff,
        ) from exc
    path.write_text(entry_text(client, ctype, answer), encoding="utf-8")
    return Pushed(path=path, entry=answer, changed=answer.etag != etag)
