"""cms.testing, the pytest plugin: a plugin author's tests, run as the author runs them.

Each test writes an author's test file (and the plugin it tests) into a fresh
folder and runs pytest on it (pytester): the fixtures come from the
``pytest11`` entry point alone, as they would in the author's project.
"""

from __future__ import annotations

import pytest

from cms.testing import POSTGRES_URL

pytest_plugins = ["pytester"]

PLUGIN_TESTS = '''
from pathlib import Path

import pytest
from litestar import get
from litestar.di import NamedDependency
from sqlalchemy import table
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.hookspecs import hookimpl
from cms.settings import PluginSettings, Settings
from cms.testing import QUIET


class GreeterSettings(PluginSettings, frozen=True):
    word: str = "hello"


class Greeter:
    """Greets with its setting, and counts the rows of its own table."""

    name = "greeter"

    @hookimpl
    def register_settings(self):
        return GreeterSettings

    @hookimpl
    def register_migrations(self):
        return Path(__file__).parent / "versions"

    @hookimpl
    def register_routes(self, settings):
        @get("/api/v1/greeting")
        async def greeting(session: NamedDependency[AsyncSession]) -> dict[str, object]:
            count = await session.exec(select(func.count()).select_from(table("greetings")))
            return {"greeting": settings.word, "sent": count.one()}

        return [greeting]


@pytest.fixture
def cms_plugins():
    return [Greeter()]


@pytest.fixture
def cms_settings():
    return Settings(plugin_variables={"CMS_GREETER_WORD": "bonjour"}, **QUIET)


def test_the_plugin_is_served_with_its_settings_and_its_table(cms_client, cms_backend):
    assert cms_client.get("/api/v1/greeting").json() == {"greeting": "bonjour", "sent": 0}
    assert cms_client.get("/api/v1/articles").json()["data"] == []


def test_a_token_per_role(cms_client, cms_tokens):
    assert cms_client.get("/api/v1/tokens", headers=cms_tokens.auth("admin")).status_code == 200
    assert cms_client.get("/api/v1/tokens", headers=cms_tokens.auth("editor")).status_code == 403
    draft = {"title": "A draft", "clinics": [], "author": None, "body": "Hi."}
    created = cms_client.post("/api/v1/articles", json=draft, headers=cms_tokens.auth("author"))
    assert created.status_code == 201, created.text


def test_each_test_gets_a_database_of_its_own(cms_database_url, cms_databases):
    assert cms_database_url != cms_databases.fresh()
'''

VERSION = """
import sqlalchemy as sa
from alembic import op

revision = "greeter_0001"
down_revision = None
branch_labels = ("greeter",)
depends_on = "0007"


def upgrade() -> None:
    op.create_table("greetings", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("greetings")
"""


def test_a_plugin_authors_tests_get_the_app_a_client_tokens_and_databases(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_greeter=PLUGIN_TESTS)
    (pytester.path / "versions").mkdir()
    (pytester.path / "versions" / "greeter_0001.py").write_text(VERSION, encoding="utf-8")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-W", "error")
    # Each test runs on SQLite, and on PostgreSQL when CMS_TEST_POSTGRES_URL is set.
    result.assert_outcomes(**({"passed": 6} if POSTGRES_URL else {"passed": 3, "skipped": 3}))


def test_the_fixtures_are_only_there_to_be_asked_for(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("--setup-show")
    result.assert_outcomes(passed=1)
    assert "cms_" not in result.stdout.str()
    listed = pytester.runpytest_subprocess("--fixtures")
    assert "cms_client" in listed.stdout.str()
