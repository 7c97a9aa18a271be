"""The example clinic site's TypeScript types: generated from the OpenAPI document, fresh,
and its JavaScript type-checks against them (`tsc --noEmit`, `// @ts-check`).

These need Node and npm: without npm they skip, saying why; under CI they fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser.chromium import unavailable
from tests.conftest import REPO

SITE = REPO / "examples" / "clinic-site"
TYPES = SITE / "types" / "api.d.ts"
DOCUMENT = REPO / "openapi" / "openapi.json"


def _run(*args: str, cwd: Path = SITE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(name="node_tools", scope="module")
def fixture_node_tools() -> Path:
    """The site's pinned tools (``npm ci`` when they are missing or not the locked ones)."""
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed: the TypeScript checks need Node.js and npm")
    installed = SITE / "node_modules" / ".package-lock.json"
    locked = json.loads((SITE / "package-lock.json").read_text())["packages"]
    if not installed.exists() or {
        name: spec.get("version")
        for name, spec in json.loads(installed.read_text())["packages"].items()
    } != {name: spec.get("version") for name, spec in locked.items() if name}:
        done = _run(npm, "ci", "--no-audit", "--no-fund")
        assert done.returncode == 0, done.stdout + done.stderr
    return SITE / "node_modules" / ".bin"


def test_committed_types_are_generated_from_the_committed_document(
    node_tools: Path, tmp_path: Path
) -> None:
    fresh = tmp_path / "api.d.ts"
    done = _run(str(node_tools / "openapi-typescript"), str(DOCUMENT), "--output", str(fresh))
    assert done.returncode == 0, done.stdout + done.stderr
    assert TYPES.read_text() == fresh.read_text(), "stale: run `make types-ts`"


def test_the_sites_javascript_type_checks(node_tools: Path) -> None:
    scripts = [SITE / "config.js", *sorted((SITE / "js").glob("*.js"))]
    assert (SITE / "js" / "api.js") in scripts
    for script in scripts:
        assert script.read_text().startswith("// @ts-check\n"), script.name
    done = _run(str(node_tools / "tsc"), "--noEmit", "-p", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_fails_on_javascript_that_misreads_the_api(
    node_tools: Path, tmp_path: Path
) -> None:
    """The types bite: a field the API does not have, or of another type, is an error."""
    (tmp_path / "misread.js").write_text(
        "// @ts-check\n"
        f"import {{ get }} from {json.dumps(str(SITE / 'js' / 'api.js'))};\n"
        'const clinic = await get("/api/v1/clinics/{slug}", { slug: "calgary" });\n'
        "/** @type {number} */\nexport const phone = clinic.phone;\n"
        "export const hours = clinic.opening_hour;\n"
    )
    (tmp_path / "tsconfig.json").write_text(
        json.dumps({"extends": str(SITE / "tsconfig.json"), "include": ["misread.js"]})
    )
    done = _run(str(node_tools / "tsc"), "--noEmit", "-p", ".", cwd=tmp_path)
    assert done.returncode != 0
    assert re.search(
        r"misread\.js\(5,\d+\): error TS2322: .* not assignable to type 'number'", done.stdout
    )
    assert re.search(
        r"misread\.js\(6,\d+\): error TS2551: Property 'opening_hour' does not", done.stdout
    )
