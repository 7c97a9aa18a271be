"""Creates that race for one slug, sent at once to a served app (issue 15).

The requests go over real connections to `cms serve` in a process of its own
(:func:`tests.live.fixture_live`), so that they are handled side by side as
in production: the in-process test client would run them one after another.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.live import Live, fixture_live  # noqa: F401  (the `live` fixture)
from tests.servers import HTTP_TIMEOUT

RACERS = 20


def _post_at_once(live: Live, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST each of ``bodies`` to the articles, all at once, as admin."""

    async def run() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {live.secrets['admin']}"}
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(
            base_url=live.base, timeout=HTTP_TIMEOUT, limits=limits
        ) as client:
            return list(
                await asyncio.gather(
                    *(client.post("/api/v1/articles", json=b, headers=headers) for b in bodies)
                )
            )

    return asyncio.run(run())


def _article(title: str, **fields: Any) -> dict[str, Any]:
    return {"title": title, "clinics": ["calgary"], "author": "lena-marchetti",
            "body": "Hello.", **fields}  # fmt: skip


def test_creates_of_one_title_without_a_slug_all_get_one_of_their_own(live: Live) -> None:
    answers = _post_at_once(live, [_article("Open house in May")] * RACERS)
    assert [a.status_code for a in answers] == [201] * RACERS, [
        a.text for a in answers if a.status_code != 201
    ]
    slugs = {a.json()["slug"] for a in answers}
    assert slugs == {"open-house-in-may", *(f"open-house-in-may-{n}" for n in range(2, 21))}
    assert len({a.json()["id"] for a in answers}) == RACERS
    assert {a.headers["location"].rsplit("/", 1)[1] for a in answers} == slugs
    # Each is there under its slug, a draft of its own.
    listed = httpx.get(
        f"{live.base}/api/v1/articles",
        params={"status": "draft", "limit": 100},
        headers={"Authorization": f"Bearer {live.secrets['editor']}"},
        timeout=HTTP_TIMEOUT,
    )
    assert listed.status_code == 200, listed.text
    drafts = {e["slug"] for e in listed.json()["data"]}
    assert {s for s in drafts if s.startswith("open-house-in-may")} == slugs


def test_creates_racing_for_a_slug_they_name_get_a_422_naming_it(live: Live) -> None:
    racers = 5
    answers = _post_at_once(live, [_article("Hours", slug="holiday-hours")] * racers)
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [422] * (racers - 1), [a.text for a in answers]
    for lost in (a for a in answers if a.status_code == 422):
        problem = lost.json()
        assert [e["name"] for e in problem["errors"]] == ["slug"]
        assert "already uses 'holiday-hours'" in problem["errors"][0]["reason"]
    # And once it is taken, as ever.
    again = _post_at_once(live, [_article("Hours", slug="holiday-hours")])[0]
    assert again.status_code == 422
    assert [e["name"] for e in again.json()["errors"]] == ["slug"]
