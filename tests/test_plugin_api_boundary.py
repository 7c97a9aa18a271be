"""Plugins import the plugin API, ``cms.plugin``, and no other module of ``cms``.

Every module under ``plugins/`` and ``examples/`` is parsed (not imported)
and each of its imports checked, those under ``if TYPE_CHECKING:`` and inside
functions included. A plugin's tests may also import ``cms.testing``, the
pytest plugin. Third-party libraries (pluggy, msgspec, litestar, sqlalchemy)
are not ``cms``: they are allowed. The complete example plugin of
``docs/plugins.md`` is scanned too, file by file, as the page shows it; and
every name the plugin API exports has an entry on that page.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import cms.plugin
from tests.conftest import REPO
from tests.documented_plugin import DOCS, documented_files

ALLOWED = frozenset({"cms.plugin"})
ALLOWED_IN_TESTS = frozenset({"cms.plugin", "cms.testing"})
ROOTS = ("plugins", "examples")
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__"})


def is_test_module(path: Path) -> bool:
    """Whether ``path`` is part of a plugin's tests."""
    return "tests" in path.parts or path.name.startswith("test_") or path.name == "conftest.py"


def cms_imports(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) of every import of a ``cms`` module in ``source``.

    ``from cms import plugin`` imports ``cms.plugin``; ``import cms`` and
    ``from cms import __version__`` import ``cms`` itself.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "cms" or alias.name.startswith("cms."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "cms":
                for alias in node.names:
                    yield node.lineno, f"cms.{alias.name}"
            elif node.module.startswith("cms."):
                yield node.lineno, node.module


def violations(source: str, *, test_module: bool = False) -> list[str]:
    """``line: module`` for each import of ``source`` past the plugin API."""
    allowed = ALLOWED_IN_TESTS if test_module else ALLOWED
    return [f"{line}: {module}" for line, module in cms_imports(source) if module not in allowed]


def plugin_modules() -> list[Path]:
    """Every Python module of the plugins and examples in the repository."""
    found = []
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            if SKIPPED_FOLDERS.isdisjoint(path.relative_to(REPO).parts):
                found.append(path)
    return found


def test_the_first_party_plugins_are_scanned() -> None:
    scanned = {p.relative_to(REPO).as_posix() for p in plugin_modules()}
    assert {"plugins/blog_series/navigation.py", "plugins/case_stories/rules.py"} <= scanned


@pytest.mark.parametrize("path", plugin_modules(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_a_plugin_module_imports_only_the_plugin_api(path: Path) -> None:
    found = violations(path.read_text(encoding="utf-8"), test_module=is_test_module(path))
    assert not found, f"{path.relative_to(REPO)} imports past cms.plugin: {found}"


def documented_modules() -> dict[str, str]:
    """The Python files of the example plugin of docs/plugins.md: path to text."""
    return {name: text for name, text in documented_files().items() if name.endswith(".py")}


def test_the_documented_example_is_scanned() -> None:
    assert {"clinic_workshops/__init__.py", "tests/test_workshops.py"} <= set(documented_modules())


@pytest.mark.parametrize("name", sorted(documented_modules()))
def test_the_documented_example_imports_only_the_plugin_api(name: str) -> None:
    found = violations(documented_modules()[name], test_module=is_test_module(Path(name)))
    assert not found, f"{DOCS.name}: {name} imports past cms.plugin: {found}"


def test_every_name_of_the_plugin_api_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert [name for name in cms.plugin.__all__ if f"`{name}`" not in text] == []


@pytest.mark.parametrize(
    "source",
    [
        "from cms.storage.tables import Entry",
        "import cms.reading.listing",
        "import cms",
        "from cms import app",
        "from cms.testing import client",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cms.app import Services",
        "def later():\n    from cms.settings import Settings\n    return Settings",
    ],
)
def test_the_check_catches_an_import_past_the_api(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        "from cms.plugin import ContentType, hookimpl",
        "from cms import plugin",
        "import cms.plugin",
        "import cmsextra\nfrom cmsextra.x import y",
        "from . import types\nfrom .navigation import recompute",
        "import msgspec\nimport pluggy\nfrom litestar import get\nimport sqlalchemy",
    ],
)
def test_the_check_lets_the_plugin_api_through(source: str) -> None:
    assert violations(source) == []


def test_a_plugins_tests_may_also_import_the_pytest_plugin() -> None:
    source = "from cms.testing import client\nfrom cms.plugin import hookimpl"
    assert violations(source, test_module=True) == []
    assert violations("from cms.app import create_app", test_module=True)
    assert is_test_module(Path("plugins/blog_series/tests/test_navigation.py"))
    assert not is_test_module(Path("plugins/blog_series/navigation.py"))
