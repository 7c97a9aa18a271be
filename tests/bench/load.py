"""The load run of ``make bench``: many connections, readers and editors at once, on PostgreSQL.

``cms serve --workers 2`` on a fresh PostgreSQL database holding the demo
content and 1,000 generated articles. ``wrk`` holds 500 connections open for
60 seconds; of its requests 95% are public reads (lists, details, search, the
change feed, a feed) and 5% are an editor's writes: a create, then the publish
of what was created (with the ETag the create answered). Each write carries an
``X-Request-ID`` that the server echoes, so the Lua script knows which writes
were acknowledged and writes their slugs to a file per wrk thread.

It passes when wrk saw no error (no socket error, no timeout, no answer other
than 2xx or 3xx) and every acknowledged write is readable afterwards: each
created article with the editor's token, each published one anonymously, with
the title it was created with. It prints requests per second, p50 and p99.

Environment: ``BENCH_LOAD_SECONDS`` (default 60), ``BENCH_LOAD_CONNECTIONS``
(default 500), ``BENCH_POSTGRES_URL`` (a ``postgresql+asyncpg://`` URL of any
database on the server; default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``).
``BENCH_LOAD=0`` skips the run.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
ARTICLES = 1_000
THREADS = 2
WRITE_EVERY = 40
"""One request in 40 is a create and one a publish: 5% writes."""
TIMEOUT = "10s"

LOAD_LUA = r"""
local reads = {%(reads)s}
local token = "%(token)s"
local folder = "%(folder)s"
local every = %(every)d
local count = 0
function setup(thread)
  thread:set("id", count)
  count = count + 1
end

local n = 0
local pending = {}
local created, published, failed

function init(args)
  created = io.open(folder .. "/created-" .. id .. ".txt", "w")
  published = io.open(folder .. "/published-" .. id .. ".txt", "w")
  failed = io.open(folder .. "/failed-" .. id .. ".txt", "w")
end

function request()
  n = n + 1
  if #pending > 0 and n %% every == every / 2 then
    local p = table.remove(pending, 1)
    return wrk.format("POST", "/api/v1/articles/" .. p[1] .. "/publish", {
      ["Authorization"] = "Bearer " .. token,
      ["If-Match"] = p[2],
      ["X-Request-ID"] = "publish-" .. p[1],
    }, "")
  end
  if n %% every == 0 then
    local slug = "load-" .. id .. "-" .. n
    local body = '{"title":"Load test ' .. slug .. '","slug":"' .. slug ..
      '","summary":"Written by the load run.","author":"lena-marchetti",' ..
      '"clinics":["calgary"],"body":"## Load\\n\\nAn article written under load."}'
    return wrk.format("POST", "/api/v1/articles", {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
      ["X-Request-ID"] = "create-" .. slug,
    }, body)
  end
  return wrk.format("GET", reads[(n %% #reads) + 1])
end

local function header(headers, name)
  for k, v in pairs(headers) do
    if string.lower(k) == name then return v end
  end
  return nil
end

function response(status, headers, body)
  local rid = header(headers, "x-request-id")
  if status >= 400 then
    failed:write(status, " ", tostring(rid), " ", string.sub(body, 1, 300), "\n")
    failed:flush()
  end
  if rid == nil then return end
  if status == 201 and string.sub(rid, 1, 7) == "create-" then
    local slug = string.sub(rid, 8)
    created:write(slug, "\n")
    created:flush()
    table.insert(pending, {slug, header(headers, "etag")})
  elseif status == 200 and string.sub(rid, 1, 8) == "publish-" then
    published:write(string.sub(rid, 9), "\n")
    published:flush()
  end
end
"""

READS = (
    "/api/v1/articles?limit=20",
    "/api/v1/articles?limit=20&include=author,reviewed_by,conditions,clinics",
    "/api/v1/conditions/sciatica",
    "/api/v1/search?q=sciatic%20nerve",
    "/api/v1/changes?clinic=calgary&since=0",
    "/api/v1/clinics/calgary/feed.atom",
    "/api/v1/practitioners?limit=20",
)


@dataclass(frozen=True)
class LoadResult:
    """What the load run measured and checked."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    created: int
    published: int
    errors: list[str]
    """What wrk counted as failed: timeouts, socket errors, answers not 2xx or 3xx."""
    lost: list[str]
    """Acknowledged writes that do not read back as written."""

    @property
    def passed(self) -> bool:
        """No error and no lost write."""
        return not self.errors and not self.lost

    def lines(self, connections: int, seconds: int) -> list[str]:
        """The result as printed lines, PASS or FAIL first."""
        lost = (
            f"{len(self.lost)} of them not readable afterwards: {'; '.join(self.lost[:5])}"
            if self.lost
            else "every one readable afterwards"
        )
        return [
            f"load {'PASS' if self.passed else 'FAIL'}: {connections} connections, {seconds}s, "
            "PostgreSQL, 2 workers, 95% reads / 5% writes",
            f"  {self.requests:,} requests, {self.rps:,.0f} req/s, "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms",
            f"  {self.created:,} creates and {self.published:,} publishes acknowledged, {lost}",
            f"  errors: {', '.join(self.errors) or 'none'}",
        ]


def postgres_admin_url() -> str:
    """The server the load run makes its database on."""
    return os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_POSTGRES


def _admin(url: str, statement: str) -> None:
    async def run() -> None:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


class Database:
    """A fresh PostgreSQL database, dropped when the block ends."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.name = f"cms_bench_load_{uuid.uuid4().hex[:10]}"
        self.url = make_url(server).set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> Database:
        _admin(self.server, f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc: object) -> None:
        _admin(self.server, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def load_script(folder: Path, token: str) -> Path:
    """The wrk script, writing what was acknowledged into ``folder``."""
    path = folder / "load.lua"
    reads = ",".join(f'"{r}"' for r in READS)
    path.write_text(
        LOAD_LUA % {"reads": reads, "token": token, "folder": folder, "every": WRITE_EVERY},
        encoding="utf-8",
    )
    return path


def failures(folder: Path) -> str:
    """The first answers that were not 2xx or 3xx, as the wrk threads wrote them."""
    lines = [
        line
        for path in sorted(folder.glob("failed-*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return "\n".join(lines[:10])


def acknowledged(folder: Path, kind: str) -> list[str]:
    """The slugs every wrk thread wrote as acknowledged ``kind`` (created, published)."""
    return [
        line
        for path in sorted(folder.glob(f"{kind}-*.txt"))
        for line in path.read_text(encoding="utf-8").split()
    ]


REQUESTS_RE = re.compile(r"^\s*([\d]+) requests in", re.MULTILINE)


def requests_of(report: str) -> int:
    """How many requests wrk completed."""
    found = REQUESTS_RE.search(report)
    return int(found.group(1)) if found else 0


def wrk_command(wrk: str, script: Path, base: str, connections: int, seconds: int) -> list[str]:
    """The wrk command of the load run."""
    return [
        wrk,
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={TIMEOUT}",
        "--latency",
        "-s",
        str(script),
        base,
    ]
