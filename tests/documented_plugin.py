"""The complete example plugin of ``docs/plugins.md``, read out of the page.

Each code block of the page that starts with ``# file: <path>`` is one file
of the example's project. The third-party plugin test installs them as a
distribution, and the plugin API boundary test scans them: so the page's
example is known to work, and to import nothing but the plugin API.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.conftest import REPO

DOCS = REPO / "docs" / "plugins.md"
_FILE_BLOCK = re.compile(r"```\w+\n# file: (\S+)\n(.*?)```", re.S)


def documented_files() -> dict[str, str]:
    """Path to text of every file of the example, as the page shows them."""
    return dict(_FILE_BLOCK.findall(DOCS.read_text(encoding="utf-8")))


def install(site: Path) -> dict[str, object]:
    """Lay the example out in ``site`` as an installer would; its ``[project]`` table.

    The package is copied (its tests are not installed), and a ``.dist-info`` holds the
    distribution's METADATA and ``cms`` entry points, read from the
    documented ``pyproject.toml``: with ``site`` on the path,
    ``importlib.metadata`` finds the plugin as it finds any installed one.
    """
    files = documented_files()
    project: dict[str, object] = tomllib.loads(files.pop("pyproject.toml"))["project"]
    for name, text in files.items():
        if name.startswith("tests/"):
            continue
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text, encoding="utf-8")
    name, version = str(project["name"]), str(project["version"])
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    entry_points = project["entry-points"]
    assert isinstance(entry_points, dict)
    (dist / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items())
            for group, points in entry_points.items()
        ),
        encoding="utf-8",
    )
    return project
