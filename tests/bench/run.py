"""Benchmark of the public read API, against a minimal Litestar app as a ceiling.

Run it as ``.venv/bin/python tests/bench/run.py``. It

1. makes sure ``wrk`` is installed (``apt-get install wrk`` when it is not);
2. builds a fresh SQLite database in a temporary folder and loads the demo
   content plus 10,000 generated published articles with ``cms content load``;
3. serves the CMS with ``cms serve`` and the ceiling app (``ceiling.py``) with
   ``cms serve --app``: the same command, settings and single uvicorn worker;
4. drives each scenario with ``wrk`` after a short warm-up and prints requests
   per second, median and 99th percentile latency, and the share of the
   ceiling's requests per second measured in the same run.

Environment: ``BENCH_DURATION`` (seconds per scenario, default 10) and
``BENCH_WARMUP`` (seconds of warm-up before each, default 2).

5. then runs the load run of ``load.py`` on PostgreSQL: 500 connections for
   60 seconds, 95% public reads and 5% editors' writes, ``cms serve --workers 2``
   (``BENCH_LOAD=0`` skips it; ``BENCH_READS=0`` skips the read scenarios).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import load  # tests/bench/load.py: this script's folder is first on sys.path
import yaml

REPO = Path(__file__).resolve().parents[2]
CMS = Path(sys.executable).with_name("cms")
HOST = "127.0.0.1"
CEILING_APP = "tests.bench.ceiling:create_app"
CEILING_PATH = "/ceiling"

SEED = 20240601
ARTICLES = 10_000
THREADS = 2
CONNECTIONS = 32
READY_TIMEOUT = 30.0

FIRST_PUBLISHED = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
PUBLISHED_SPAN = dt.timedelta(days=5 * 365)

OPENERS = (
    "Understanding",
    "Living with",
    "Five questions about",
    "What to know about",
    "Easing",
    "A practical guide to",
    "Myths and facts about",
    "Moving well with",
)
SUBJECTS = (
    "low back pain",
    "sciatica",
    "a stiff upper back",
    "sitting at a desk",
    "lifting and bending",
    "sleep and back pain",
    "acupuncture sessions",
    "recovery after a strain",
    "chronic pain",
    "posture at work",
)
HEADINGS = (
    "What it feels like",
    "Why it happens",
    "When to see someone",
    "What a visit involves",
    "Small changes that help",
    "How long recovery takes",
    "Questions patients ask",
    "What the research says",
)
TAGS = (
    "back-pain",
    "acupuncture",
    "posture",
    "exercise",
    "sleep",
    "chronic-pain",
    "nerve-pain",
    "self-care",
    "workplace",
)
VOCABULARY = (
    "pain muscle nerve spine joint posture stretch walk sleep desk chair lift bend twist "
    "rest heat ice session needle treatment plan week month day morning evening gentle "
    "steady slow careful common often usually sometimes many most people patients "
    "practitioners clinic assessment history symptoms leg hip shoulder neck lower upper "
    "side movement strength habit routine breathing relief stiffness tension change "
    "improve ease return work home activity daily simple small regular early"
)
WORDS = tuple(VOCABULARY.split())

# libyaml's dumper when PyYAML has it: ten times faster, which matters for 10,000 files.
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
PERCENTILE_RE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
NON_2XX_RE = re.compile(r"Non-2xx or 3xx responses: (\d+)")
SOCKET_ERRORS_RE = re.compile(r"Socket errors: (.*)$", re.MULTILINE)


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


@dataclass(frozen=True)
class Config:
    """Durations, in seconds, read from the environment."""

    duration: int
    warmup: int

    @classmethod
    def from_env(cls) -> Config:
        """Read ``BENCH_DURATION`` and ``BENCH_WARMUP``."""
        return cls(
            duration=_env_seconds("BENCH_DURATION", 10, minimum=1),
            warmup=_env_seconds("BENCH_WARMUP", 2, minimum=0),
        )


def _env_seconds(name: str, default: int, *, minimum: int) -> int:
    """A whole number of seconds from ``name``, or ``default`` when unset."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise BenchError(f"{name}={raw!r}: expected a whole number of seconds >= {minimum}")
    return int(raw)


@dataclass(frozen=True)
class Scenario:
    """One URL to drive, with the request headers and the status it must answer."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200
    script: Path | None = None
    """A wrk Lua script choosing each request's path (the URL is checked first)."""


@dataclass(frozen=True)
class Result:
    """What wrk measured for one scenario."""

    name: str
    rps: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Reply:
    """One HTTP response, read whole."""

    status: int
    etag: str | None
    body: bytes


# --- wrk -------------------------------------------------------------------


def ensure_wrk() -> str:
    """The path of ``wrk``, installing the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not on PATH: installing it with apt-get", flush=True)
    if not _apt_get("install", "-y", "wrk"):
        _apt_get("update")
        _apt_get("install", "-y", "wrk")
    found = shutil.which("wrk")
    if found is None:
        raise BenchError(
            "the bench needs the wrk load generator and could not install it; "
            "run `apt-get install wrk` as root (or put wrk on PATH) and run it again"
        )
    return found


def _apt_get(*args: str) -> bool:
    """Run ``apt-get`` non-interactively; whether it succeeded."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(["apt-get", *args], env=env, check=False).returncode == 0
    except OSError:
        return False


def run_wrk(wrk: str, scenario: Scenario, seconds: int) -> str:
    """Drive ``scenario`` for ``seconds``; wrk's report."""
    headers = [arg for k, v in scenario.headers.items() for arg in ("-H", f"{k}: {v}")]
    command = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if scenario.script is not None:
        command += ["-s", str(scenario.script)]
    return wrk_report(scenario.name, [*command, *headers, scenario.url])


def wrk_report(name: str, command: list[str]) -> str:
    """Run a ``wrk`` command; its report, or BenchError naming ``name``."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{name}: wrk failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def parse_wrk(name: str, report: str) -> Result:
    """Requests per second and the 50% and 99% latencies of a ``wrk --latency`` report.

    Raises:
        BenchError: when a response had a bad status or a socket failed, or the
            report lacks a figure.
    """
    bad = NON_2XX_RE.search(report)
    if bad:
        raise BenchError(f"{name}: {bad.group(1)} responses were not 2xx or 3xx:\n{report}")
    errors = SOCKET_ERRORS_RE.search(report)
    if errors:
        raise BenchError(f"{name}: socket errors ({errors.group(1)}):\n{report}")
    rps = RPS_RE.search(report)
    latencies = {p: float(v) * UNITS_MS[u] for p, v, u in PERCENTILE_RE.findall(report)}
    if rps is None or set(latencies) != {"50", "99"}:
        raise BenchError(f"{name}: cannot read wrk's report:\n{report}")
    return Result(name, float(rps.group(1)), latencies["50"], latencies["99"])


# --- HTTP ------------------------------------------------------------------


def fetch(url: str, headers: Mapping[str, str] | None = None) -> Reply:
    """GET ``url`` (plain HTTP) and read the whole response."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return Reply(response.status, response.getheader("ETag"), response.read())
    finally:
        conn.close()


def check(scenario: Scenario) -> None:
    """Fetch ``scenario`` once; a status other than the expected one fails the bench."""
    reply = fetch(scenario.url, scenario.headers)
    if reply.status != scenario.status:
        raise BenchError(
            f"{scenario.name}: GET {scenario.url} answered {reply.status}, "
            f"expected {scenario.status}: {reply.body[:300]!r}"
        )
    print(f"  {scenario.name}: {reply.status}, {len(reply.body):,} bytes", flush=True)


def measure(wrk: str, scenario: Scenario, config: Config) -> Result:
    """Check ``scenario``, warm it up, then measure it."""
    check(scenario)
    if config.warmup:
        run_wrk(wrk, scenario, config.warmup)
    result = parse_wrk(scenario.name, run_wrk(wrk, scenario, config.duration))
    print(f"  {result.name}: {result.rps:,.0f} req/s", flush=True)
    return result


# --- content ---------------------------------------------------------------


def demo_slugs(folder: str) -> list[str]:
    """Slugs of the repo's demo entries of one type folder, e.g. ``conditions``."""
    return sorted(p.stem for p in (REPO / "content" / folder).glob("*.md"))


def slugify(text: str) -> str:
    """Lowercase words joined by single hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def sentence(rng: random.Random) -> str:
    """A sentence of 8 to 16 random words."""
    words = rng.choices(WORDS, k=rng.randint(8, 16))
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, words: int) -> str:
    """Sentences adding up to at least ``words`` words."""
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < words:
        sentences.append(sentence(rng))
    return " ".join(sentences)


def article_body(rng: random.Random, condition: str) -> str:
    """About 300 words in four sections with ``##`` headings and one condition link."""
    link = f"[{condition.replace('-', ' ')}](cms:condition/{condition})"
    sections = [f"{paragraph(rng, 40)} More on {link} is on its own page."]
    for heading in rng.sample(HEADINGS, k=3):
        sections.append(f"## {heading}\n\n{paragraph(rng, 80)}")
    return "\n\n".join(sections)


def article_file(rng: random.Random, n: int, demo: Mapping[str, list[str]]) -> tuple[str, str]:
    """The slug and the file text of the ``n``-th generated article."""
    title = f"{rng.choice(OPENERS)} {rng.choice(SUBJECTS)}"
    clinics = rng.sample(demo["clinics"], k=rng.randint(1, len(demo["clinics"])))
    conditions = rng.sample(demo["conditions"], k=rng.randint(1, 3))
    published = FIRST_PUBLISHED + dt.timedelta(
        seconds=rng.randrange(int(PUBLISHED_SPAN.total_seconds()))
    )
    meta = {
        "title": title,
        "summary": paragraph(rng, 25),
        "status": "published",
        "clinics": clinics,
        "origin_clinic": rng.choice(clinics),
        "tags": rng.sample(TAGS, k=rng.randint(1, 4)),
        "published_at": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "author": rng.choice(demo["practitioners"]),
        "conditions": conditions,
    }
    front = yaml.dump(meta, Dumper=DUMPER, sort_keys=False, allow_unicode=True, width=1000)
    return f"{slugify(title)}-{n:05d}", f"---\n{front}---\n\n{article_body(rng, conditions[0])}\n"


def build_content(folder: Path, articles: int = ARTICLES) -> list[str]:
    """Copy the demo content to ``folder`` and add ``articles`` generated articles.

    Returns:
        The slugs of the generated articles.
    """
    shutil.copytree(REPO / "content", folder)
    demo = {name: demo_slugs(name) for name in ("clinics", "conditions", "practitioners")}
    rng = random.Random(SEED)
    slugs = []
    for n in range(articles):
        slug, text = article_file(rng, n, demo)
        (folder / "articles" / f"{slug}.md").write_text(text, encoding="utf-8")
        slugs.append(slug)
    return slugs


# Each wrk thread walks the paths in order from its own starting point. A
# cycle longer than the response cache (4,096 responses) misses it on every
# request: least recently used is exactly the next one wanted.
WALK_LUA = """
local paths = {%s}
local count = 0
function setup(thread)
  thread:set("position", count * math.floor(#paths / %d))
  count = count + 1
end
function request()
  position = position + 1
  return wrk.format("GET", paths[(position %% #paths) + 1])
end
"""


def walk_script(path: Path, urls: list[str]) -> Path:
    """A wrk script that requests ``urls`` (paths) in a cycle."""
    quoted = ",".join(f'"{u}"' for u in urls)
    path.write_text(WALK_LUA % (quoted, THREADS), encoding="utf-8")
    return path


# --- the CMS and its servers -----------------------------------------------


def run_cms(env: Mapping[str, str], *args: str) -> str:
    """Run one ``cms`` command; its output, or BenchError with its errors."""
    done = subprocess.run(
        [str(CMS), *args], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"cms {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout.strip()


def prepare_database(env: Mapping[str, str], content: Path) -> None:
    """Migrate the empty database and load ``content`` into it, timing the load."""
    run_cms(env, "db", "upgrade")
    started = time.perf_counter()
    report = run_cms(env, "content", "load", str(content))
    print(f"content load: {time.perf_counter() - started:.1f}s ({report})", flush=True)


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(log: Path, lines: int = 30) -> str:
    """The last lines of a server's log."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail when the server exits or takes too long."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"server exited ({process.returncode}):\n{_tail(log)}")
        try:
            if fetch(url).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"{url} not ready after {READY_TIMEOUT:.0f}s:\n{_tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server: SIGTERM, then SIGKILL if it has not exited after 10 seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serve(env: Mapping[str, str], log: Path, ready: str, *options: str) -> Iterator[str]:
    """Run ``cms serve`` on a free port until the block ends; yields its base URL.

    Args:
        ready: the path that answers 200 once the server is up.
        options: more ``cms serve`` options, e.g. ``--app``.
    """
    port = free_port()
    base = f"http://{HOST}:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(CMS), "serve", "--port", str(port), *options],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(process, base + ready, log)
        yield base
    finally:
        stop(process)


# --- the run ---------------------------------------------------------------


def current_etag(url: str) -> str:
    """The ETag ``url`` answers with now (the revalidation scenarios send it back)."""
    reply = fetch(url)
    if reply.status != 200 or not reply.etag:
        raise BenchError(f"GET {url} answered {reply.status}, ETag {reply.etag!r}")
    return reply.etag


def scenarios(cms: str, ceiling: str, slugs: list[str], tmp: Path) -> list[Scenario]:
    """Every scenario, the ceiling last; the revalidations use the current ETags."""
    detail = f"{cms}/api/v1/articles/{slugs[len(slugs) // 2]}"
    walk = walk_script(tmp / "walk.lua", [f"/api/v1/articles/{s}" for s in slugs])
    included = f"{cms}/api/v1/articles?limit=20&include=author,reviewed_by,conditions,clinics"
    return [
        Scenario("article list", f"{cms}/api/v1/articles?limit=20"),
        Scenario("list + includes", included),
        Scenario("article detail", detail),
        Scenario("condition detail", f"{cms}/api/v1/conditions/sciatica"),
        Scenario("search", f"{cms}/api/v1/search?q=sciatic%20nerve"),
        Scenario("change feed (100)", f"{cms}/api/v1/changes?clinic=calgary&since=0"),
        Scenario("clinic Atom feed (20)", f"{cms}/api/v1/clinics/calgary/feed.atom"),
        Scenario("article 304", detail, {"If-None-Match": current_etag(detail)}, status=304),
        Scenario("list 304", included, {"If-None-Match": current_etag(included)}, status=304),
        Scenario("detail, uncached", detail, script=walk),
        Scenario("ceiling", f"{ceiling}{CEILING_PATH}"),
    ]


def lost_writes(base: str, token: str, created: list[str], published: list[str]) -> list[str]:
    """The acknowledged writes that do not read back as written: each created
    article with the token, each published one anonymously."""
    lost: list[str] = []
    for slug, headers in [
        *((s, {"Authorization": f"Bearer {token}"}) for s in created),
        *((s, {}) for s in published),
    ]:
        reply = fetch(f"{base}/api/v1/articles/{slug}", headers)
        reader = "with the token" if headers else "anonymously"
        if reply.status != 200:
            lost.append(f"{slug}: {reply.status} {reader}")
        elif json.loads(reply.body).get("title") != f"Load test {slug}":
            lost.append(f"{slug}: the title read {reader} is not the one written")
    return lost


def run_load(tmp: Path, wrk: str) -> tuple[list[str], bool]:
    """The load run (see ``load.py``) on PostgreSQL: its printed lines, and whether it passed."""
    connections = _env_seconds("BENCH_LOAD_CONNECTIONS", 500, minimum=THREADS)
    seconds = _env_seconds("BENCH_LOAD_SECONDS", 60, minimum=1)
    slugs = build_content(tmp / "content", load.ARTICLES)
    print(f"load run: demo content and {len(slugs):,} articles into PostgreSQL", flush=True)
    with load.Database(load.postgres_admin_url()) as database:
        env = {**os.environ, "CMS_DATABASE_URL": database.url, "CMS_HOST": HOST}
        prepare_database(env, tmp / "content")
        token = run_cms(env, "tokens", "create", "--name", "load run", "--role", "editor")
        acks = tmp / "acknowledged"
        acks.mkdir()
        script = load.load_script(acks, token)
        with serve(env, tmp / "load.log", "/ready", "--workers", "2") as cms:
            print(f"  wrk -t{THREADS} -c{connections} for {seconds}s", flush=True)
            report = wrk_report("load", load.wrk_command(wrk, script, cms, connections, seconds))
            created = load.acknowledged(acks, "created")
            published = load.acknowledged(acks, "published")
            if not created or not published:
                raise BenchError(
                    f"load: {len(created)} creates and {len(published)} publishes were "
                    f"acknowledged; the writes did not run:\n{report}\n{_tail(tmp / 'load.log')}"
                )
            lost = lost_writes(cms, token, created, published)
    rps = RPS_RE.search(report)
    latencies = {p: float(v) * UNITS_MS[u] for p, v, u in PERCENTILE_RE.findall(report)}
    if rps is None or set(latencies) != {"50", "99"}:
        raise BenchError(f"load: cannot read wrk's report:\n{report}")
    bad = NON_2XX_RE.search(report)
    sockets = SOCKET_ERRORS_RE.search(report)
    errors = [
        *([f"{bad.group(1)} answers not 2xx or 3xx"] if bad else []),
        *([f"socket errors ({sockets.group(1)})"] if sockets else []),
    ]
    result = load.LoadResult(
        requests=load.requests_of(report),
        rps=float(rps.group(1)),
        p50_ms=latencies["50"],
        p99_ms=latencies["99"],
        created=len(created),
        published=len(published),
        errors=errors,
        lost=lost,
    )
    lines = result.lines(connections, seconds)
    if bad:
        lines.append("  first failed answers:\n" + load.failures(acks))
    return lines, result.passed


def run(tmp: Path, config: Config, wrk: str) -> list[Result]:
    """Build the database under ``tmp``, serve both apps and measure every scenario."""
    env = {
        **os.environ,
        "CMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        "CMS_HOST": HOST,
    }
    started = time.perf_counter()
    slugs = build_content(tmp / "content")
    print(f"content: {ARTICLES:,} articles generated in {time.perf_counter() - started:.1f}s")
    prepare_database(env, tmp / "content")
    with (
        serve(env, tmp / "cms.log", "/ready") as cms,
        serve(env, tmp / "ceiling.log", CEILING_PATH, "--app", CEILING_APP) as ceiling,
    ):
        print(
            f"wrk -t{THREADS} -c{CONNECTIONS}: {config.warmup}s warm-up, "
            f"{config.duration}s measured per scenario",
            flush=True,
        )
        return [measure(wrk, s, config) for s in scenarios(cms, ceiling, slugs, tmp)]


def table(results: list[Result]) -> str:
    """The results as a text table; the last result is the ceiling."""
    ceiling = results[-1].rps
    lines = [f"{'scenario':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'of ceiling':>10}"]
    lines += [
        f"{r.name:<18} {r.rps:>9,.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.rps / ceiling:>10.1%}"
        for r in results
    ]
    return "\n".join(lines)


def main() -> int:
    """Run the bench; 0 on success, 1 with a message on stderr otherwise."""
    started = time.perf_counter()
    try:
        config = Config.from_env()
        wrk = ensure_wrk()
        results: list[Result] = []
        if os.environ.get("BENCH_READS", "1") != "0":
            with tempfile.TemporaryDirectory(prefix="cms-bench-") as tmp:
                results = run(Path(tmp), config, wrk)
            print()
            print(table(results), flush=True)
        load_lines: list[str] = []
        load_passed = True
        if os.environ.get("BENCH_LOAD", "1") != "0":
            with tempfile.TemporaryDirectory(prefix="cms-bench-load-") as tmp:
                load_lines, load_passed = run_load(Path(tmp), wrk)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    if load_lines:
        print()
        print("\n".join(load_lines))
    print(f"\ntotal {time.perf_counter() - started:.0f}s")
    return 0 if load_passed else 1


if __name__ == "__main__":
    sys.exit(main())
