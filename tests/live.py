"""The demo with tokens served by `cms serve`, for clients to call (see :mod:`tests.servers`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cms.client import AsyncClient, Client
from tests.conftest import Databases, EditingTemplate
from tests.servers import QUIET, cms_serve


@dataclass(frozen=True)
class Live:
    """The served demo: its base URL, the secrets of its tokens, its database."""

    base: str
    secrets: dict[str, str]
    database_url: str

    def client(self, token: str | None = None, **kwargs: Any) -> Client:
        return Client(self.base, self.secrets[token] if token else None, **kwargs)

    def async_client(self, token: str | None = None) -> AsyncClient:
        return AsyncClient(self.base, self.secrets[token] if token else None)


@pytest.fixture(name="live", scope="module")
def fixture_live(
    databases: Databases,
    editing_template: EditingTemplate,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    """The demo with tokens served by uvicorn: one server per backend and test module.

    Tests sharing it write only entries of their own, or read what no other changes.
    """
    url = databases.fresh(editing_template.url)
    env = {**os.environ, **QUIET, "CMS_DATABASE_URL": url}
    with cms_serve(env, tmp_path_factory.mktemp("live") / "server.log") as base:
        yield Live(base, editing_template.secrets, url)
