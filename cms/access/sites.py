"""The clinics' own websites: where browsers that call the API come from."""

from __future__ import annotations

import msgspec
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.storage.tables import PublishedEntry


class _Site(msgspec.Struct):
    """The one field of a clinic's document read here (the others are ignored)."""

    site_url: str = ""


_decode_site = msgspec.json.Decoder(_Site).decode


async def published_site_urls(session: AsyncSession) -> list[str]:
    """The ``site_url`` of every published clinic that has one (its published version's).

    One query over the published clinics, whose number is small.
    """
    docs = await session.exec(
        select(PublishedEntry.doc).where(col(PublishedEntry.type) == "clinic")
    )
    return [url for doc in docs if (url := _decode_site(doc).site_url)]
