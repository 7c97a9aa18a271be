"""The ``cms`` command line."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import msgspec

from cms.settings import Settings, SettingsError
from cms.storage.db import writing

if TYPE_CHECKING:  # imported where used: `cms --help` stays quick
    from cms.client import Client
    from cms.contenttypes import TypeRegistry

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _loading_plugins(build: Callable[[], T]) -> T:
    """``build()``, with a plugin that cannot load, clashes or has a bad setting as an error."""
    from cms.contenttypes import RegistrationError
    from cms.plugin_manager import PluginError

    try:
        return build()
    except (PluginError, RegistrationError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from exc


class CmsGroup(click.Group):
    """The root group; plugin commands are added when it is first asked for them."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from cms.plugin_manager import call_hook, load_plugins

        try:
            settings = _settings()
            loaded = load_plugins(settings.plugins, settings=settings)
        except Exception as exc:
            click.echo(f"warning: plugins not loaded: {exc}", err=True)
            return
        call_hook(loaded.manager, "register_commands", cli=self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command


@click.group(cls=CmsGroup)
@click.version_option(package_name="clinic-cms")
def main() -> None:
    """Clinic CMS: a headless CMS for clinic groups. Settings come from CMS_* variables."""


@main.command()
@click.option("--host", default=None, help="Address to bind (CMS_HOST).")
@click.option("--port", type=int, default=None, help="Port to bind (CMS_PORT).")
@click.option("--workers", type=int, default=1, show_default=True)
@click.option(
    "--fd",
    type=int,
    default=None,
    help="Serve on this already bound socket instead (socket activation; host and port unused).",
)
@click.option(
    "--app",
    "app_factory",
    default="cms.app:create_app",
    hidden=True,
    help="Factory to serve; the benchmark serves its ceiling app with the same settings.",
)
def serve(
    host: str | None, port: int | None, workers: int, fd: int | None, app_factory: str
) -> None:
    """Serve the API with uvicorn.

    Logs go to stderr, one line each (CMS_LOG_FORMAT, CMS_LOG_LEVEL), the
    access log included; see docs/operations.md, "Metrics and logs".
    """
    import uvicorn

    from cms.logs import log_config
    from cms.serving import uvicorn_options

    settings = _settings()
    logging_config = log_config(settings)
    with _metrics_folder(workers):
        uvicorn.run(
            app_factory,
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            fd=fd,
            workers=workers,
            log_config=logging_config,
            log_level=settings.log_level,
            access_log=False,  # the app writes its own (cms.access), with the request id
            **uvicorn_options(settings),
        )


METRICS_FOLDER = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def _metrics_folder(workers: int) -> Iterator[None]:
    """For several workers, a fresh folder where each keeps its metrics, removed at the end.

    prometheus-client's multi-process mode: the workers (spawned with this
    environment) write there, and a scrape of any of them reads them all. A
    folder the operator names in ``PROMETHEUS_MULTIPROC_DIR`` is used as it is.
    """
    if workers <= 1 or os.environ.get(METRICS_FOLDER):
        yield
        return
    folder = tempfile.mkdtemp(prefix="cms-metrics-")
    os.environ[METRICS_FOLDER] = folder
    try:
        yield
    finally:
        del os.environ[METRICS_FOLDER]
        shutil.rmtree(folder, ignore_errors=True)


@main.command()
def worker() -> None:
    """Deliver webhooks, and publish scheduled entries, until interrupted.

    Runs beside `cms serve` or instead of its delivery (CMS_WEBHOOK_DELIVERY=worker):
    any number of servers and workers share the work without sending a message
    twice. Scheduled publishing runs too unless CMS_SCHEDULER_INTERVAL is 0.
    Stops on Ctrl-C or SIGTERM.
    """
    import signal

    from cms.app import build_services, webhook_loop
    from cms.editorial.workflow import run_scheduler
    from cms.logs import configure_logging

    settings = _settings()
    # The same lines as the server's; httpx's one per webhook request is held back.
    configure_logging(settings)
    services = _loading_plugins(lambda: build_services(settings))

    async def go() -> None:
        current = asyncio.current_task()
        assert current is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, current.cancel)
        tasks = [asyncio.create_task(webhook_loop(services), name="cms-webhooks")]
        if settings.scheduler_interval > 0:
            tasks.append(
                asyncio.create_task(
                    run_scheduler(
                        services.sessions,
                        services.plugins,
                        services.renderer,
                        interval=settings.scheduler_interval,
                    ),
                    name="cms-scheduler",
                )
            )
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await services.engine.dispose()

    jobs = "delivering webhooks" + (
        ", publishing scheduled entries" if settings.scheduler_interval > 0 else ""
    )
    click.echo(f"worker: {jobs}; Ctrl-C stops", err=True)
    _run(go())
    click.echo("worker stopped", err=True)


@main.group()
def db() -> None:
    """Database schema."""


def _migrations() -> tuple[str, dict[str, Path]]:
    """The database URL, and the folders of the loaded plugins' versions."""
    from cms.plugin_manager import load_plugins

    settings = _settings()
    loaded = _loading_plugins(lambda: load_plugins(settings.plugins, settings=settings))
    return settings.database_url, loaded.migrations


@db.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Apply the core's and the loaded plugins' migrations up to REVISION (default: the newest).

    A plugin's own versions are a branch named after it: `cms db upgrade
    <plugin>@head` upgrades that branch alone (and what it depends on).
    """
    from cms.storage.migrate import MigrationError, upgrade

    url, plugins = _migrations()
    try:
        upgrade(url, revision, plugins)
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION; `<plugin>@base` drops a plugin's tables.

    Run it before uninstalling a plugin that made tables, while it is still loaded.
    """
    from cms.storage.migrate import MigrationError, downgrade

    url, plugins = _migrations()
    try:
        downgrade(url, revision, plugins)
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database at {revision}")


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Write a new migration of the core from the difference between tables and database."""
    from cms.storage.migrate import make_revision

    make_revision(_settings().database_url, message)


@main.command("backup")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def backup_command(file: Path) -> None:
    """Write the whole database to FILE, consistent, while the server serves and writes.

    FILE is gzip'd JSON lines that `cms restore` reads into an empty
    database of either kind (SQLite or PostgreSQL); see docs/operations.md.
    """
    from cms.storage.backup import BackupError, backup

    try:
        report = _run(backup(_settings().database_url, file))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    revisions = ", ".join(report.revisions)
    click.echo(f"{sum(report.rows.values())} rows of {len(report.rows)} tables "
               f"(revision {revisions}) written to {file}")  # fmt: skip


@main.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def restore_command(file: Path) -> None:
    """Restore the backup FILE into the empty database CMS_DATABASE_URL names."""
    from cms.storage.backup import BackupError, restore

    url, plugins = _migrations()
    try:
        report = _run(restore(url, file, plugins))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    then = "; then migrated to the newest schema" if report.upgraded else ""
    click.echo(f"{sum(report.rows.values())} rows of {len(report.rows)} tables restored "
               f"at revision {', '.join(report.revisions)}{then}")  # fmt: skip


@main.group()
def content() -> None:
    """Markdown content files with YAML front matter."""


@content.command("load")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="The files win: take every file as written, over changes made in the database "
    "since it was last loaded or dumped, and despite broken internal links (they are listed).",
)
@click.option(
    "--allow-broken-links",
    is_flag=True,
    help="Load even if published entries are left with broken internal links (they are listed).",
)
def content_load(folder: Path, force: bool, allow_broken_links: bool) -> None:
    """Validate every file in FOLDER, then upsert them all, or write nothing.

    A file is taken only when its entry has not changed in the database
    (through the API, the scheduler, a mirror) since FOLDER was last loaded
    or dumped. Otherwise the database's version stands: a file that did not
    change is reported as kept, one that did as a conflict, naming both
    versions; --force takes the files. Kept files and conflicts do not make
    the load fail (exit status 0): `make run` still serves.

    A load that would publish an entry with a broken internal link, or
    unpublish an entry that published entries link to, is refused unless
    --allow-broken-links or --force.
    """
    from cms.app import build_services
    from cms.editorial.content_files import ContentError, _files, load_content
    from cms.plugin_manager import PluginError

    services = _loading_plugins(lambda: build_services(_settings()))
    try:
        total = len(_files(folder, services.plugins.types)[0])
    except ContentError as exc:
        raise click.ClickException(str(exc)) from exc

    async def go() -> Any:
        try:
            with click.progressbar(
                length=total, label="loading", file=sys.stderr, show_pos=True
            ) as bar:
                return await load_content(
                    services.sessions,
                    services.plugins,
                    services.renderer,
                    folder,
                    progress=bar.update,
                    force=force,
                    allow_broken_links=allow_broken_links,
                )
        finally:
            await services.engine.dispose()

    try:
        report = _run(go())
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    except ContentError as exc:
        click.echo(f"{len(exc.problems)} problem(s); nothing was written:", err=True)
        for line in exc.problems:
            click.echo(f"  {line}", err=True)
        if exc.broken_links:
            click.echo(
                "--allow-broken-links (or --force) loads anyway and lists the broken links.",
                err=True,
            )
        sys.exit(1)
    for name in report.skipped_folders:
        click.echo(f"skipped {name}/: no content type (is its plugin enabled?)", err=True)
    if report.broken_links:
        click.echo(f"{len(report.broken_links)} broken internal link(s), loaded anyway:", err=True)
        for link in report.broken_links:
            reason = "missing" if link.reason == "missing" else "not published"
            click.echo(
                f"  {link.source.type}/{link.source.slug} -> {link.target} ({reason})", err=True
            )
    if report.kept:
        click.echo(
            f"kept {len(report.kept)} file(s) as the database has them: changed in the database "
            "since the file was last loaded or dumped, and not in the file:",
            err=True,
        )
        for kept in report.kept:
            click.echo(f"  {kept.path}: {kept.database}", err=True)
    if report.conflicts:
        click.echo(
            f"CONFLICT: {len(report.conflicts)} file(s) changed since last loaded or dumped, "
            "whose entries changed in the database too; the database's versions were kept:",
            err=True,
        )
        for conflict in report.conflicts:
            click.echo(f"  {conflict.path}", err=True)
            click.echo(f"    database: {conflict.database}", err=True)
            click.echo(f"    file:     {conflict.file}", err=True)
        click.echo(
            f"To take the files: cms content load --force {folder}; to write the database's "
            f"versions to them: cms content dump {folder}",
            err=True,
        )
    summary = f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged"
    if report.kept:
        summary += f", {len(report.kept)} kept (changed in the database)"
    if report.conflicts:
        summary += f", {len(report.conflicts)} conflict(s)"
    click.echo(summary)


@content.command("rebuild")
def content_rebuild() -> None:
    """Derive every entry's HTML, links, canonical URL, JSON-LD and search text again.

    Run it once after upgrading a database to migration 0005, or after a
    plugin's Markdown extension, filters or JSON-LD mapping changed. Entries
    keep their versions: nothing they say changes.
    """
    from cms.app import build_services
    from cms.editorial.pipeline import rebuild
    from cms.plugin_manager import PluginError

    services = build_services(_settings())

    async def go() -> int:
        try:
            async with writing(services.sessions) as session, session.begin():
                return await rebuild(session, services.plugins.types, services.renderer)
        finally:
            await services.engine.dispose()

    try:
        count = _run(go())
    except PluginError as exc:
        raise click.ClickException(f"{exc}; nothing was written") from exc
    click.echo(f"{count} entries rebuilt")


@content.command("dump")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def content_dump(folder: Path) -> None:
    """Write every entry to FOLDER as Markdown files (the layout `load` reads)."""
    from cms.app import build_services
    from cms.editorial.content_files import dump_content

    services = _loading_plugins(lambda: build_services(_settings()))

    async def go() -> int:
        try:
            return await dump_content(services.sessions, services.plugins.types, folder)
        finally:
            await services.engine.dispose()

    folder.mkdir(parents=True, exist_ok=True)
    click.echo(f"{_run(go())} files written")


@main.group()
def openapi() -> None:
    """The OpenAPI document."""


DEFAULT_OPENAPI = Path("openapi/openapi.json")


def openapi_bytes(plugins: Sequence[str] | None = None) -> bytes:
    """The app's OpenAPI document, as committed: indented, keys in app order.

    Args:
        plugins: the installed plugins to document, by entry-point name;
            those ``CMS_PLUGINS`` enables (all installed ones, unset) when omitted.
    """
    from cms.app import create_app

    # The document does not depend on the database; an in-memory URL keeps
    # the export from creating a data folder.
    settings = msgspec.structs.replace(_settings(), database_url="sqlite+aiosqlite://")
    if plugins is not None:
        settings = msgspec.structs.replace(settings, plugins=tuple(plugins))
    app = create_app(settings)
    schema = app.openapi_schema.to_schema()
    return msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n"


@openapi.command("export")
@click.option(
    "--output", type=click.Path(path_type=Path), default=DEFAULT_OPENAPI, show_default=True
)
@click.option("--check", is_flag=True, help="Exit 1 when the file differs from the app.")
def openapi_export(output: Path, check: bool) -> None:
    """Write the OpenAPI document generated from the app."""
    current = openapi_bytes()
    if check:
        if not output.is_file() or output.read_bytes() != current:
            raise click.ClickException(f"{output} is stale: run `cms openapi export`")
        click.echo(f"{output} is up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(current)
    click.echo(f"wrote {output}")


@main.group()
def tokens() -> None:
    """Bearer tokens for the editors' API."""


@tokens.command("create")
@click.option("--name", required=True, help="Who or what uses the token.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "editor", "author", "viewer"]),
    help="admin, editor (write and publish), author (write, submit), viewer (read drafts).",
)
@click.option("--clinic", "clinics", multiple=True, help="Limit to this clinic; repeatable.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
def tokens_create(
    name: str, role: str, clinics: tuple[str, ...], expires_in_days: int | None
) -> None:
    """Create a token and print its secret, once, on standard output."""
    import datetime as dt

    from cms.access.tokens import create_token
    from cms.app import build_services
    from cms.errors import InvalidInput

    services = build_services(_settings())
    now = services.clock()
    expires = now + dt.timedelta(days=expires_in_days) if expires_in_days else None

    async def go() -> tuple[str, str]:
        try:
            async with writing(services.sessions) as session, session.begin():
                token, secret = await create_token(
                    session,
                    name=name,
                    role=role,
                    clinics=clinics,
                    expires_at=expires,
                    created_by="cli",
                    now=now,
                )
                return token.id, secret
        finally:
            await services.engine.dispose()

    try:
        token_id, secret = _run(go())
    except InvalidInput as exc:
        raise click.ClickException(str(exc)) from exc
    scope = ", ".join(clinics) or "every clinic"
    click.echo(f"token {token_id} ({role}, {scope}); the secret is shown only now:", err=True)
    click.echo(secret)


@tokens.command("list")
def tokens_list() -> None:
    """Print every token (never its secret)."""
    from cms.access.tokens import list_tokens
    from cms.app import build_services

    services = build_services(_settings())

    async def go() -> list[Any]:
        try:
            async with services.sessions() as session:
                return await list_tokens(session)
        finally:
            await services.engine.dispose()

    for token in _run(go()):
        state = "revoked" if token.revoked_at else "active"
        if token.expires_at is not None and state == "active":
            state = f"expires {token.expires_at.isoformat()}"
        scope = ",".join(token.clinics) or "*"
        click.echo(f"{token.id}  {token.role:<6}  {scope:<20}  {state:<10}  {token.name}")


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """Revoke the token TOKEN_ID; it stops working on its next request."""
    from cms.access.tokens import revoke_token
    from cms.app import build_services

    services = build_services(_settings())

    async def go() -> bool:
        try:
            async with writing(services.sessions) as session, session.begin():
                return await revoke_token(session, token_id)
        finally:
            await services.engine.dispose()

    if not _run(go()):
        raise click.ClickException(f"no token with id {token_id!r}")
    click.echo(f"token {token_id} revoked")


@main.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command("list")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the document GET /api/v1/plugins serves."
)
def plugins_list(as_json: bool) -> None:
    """Print the loaded plugins, their versions and what each registered."""
    from cms.app import create_app

    # The app factory loads and checks the plugins and mounts their routes,
    # exactly as `cms serve` does; no database connection is opened.
    settings = msgspec.structs.replace(_settings(), database_url="sqlite+aiosqlite://")
    report = _loading_plugins(lambda: create_app(settings)).state.services.plugin_report
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(report), indent=2))
        return
    for info in report.data:
        click.echo(f"{info.name} {info.version or '(built in)'} [{info.source}]")
        rows = [
            ("hooks", info.hooks),
            ("content types", info.content_types),
            ("response fields", info.response_fields),
            ("routes", info.routes),
            ("markdown extensions", info.markdown_extensions),
            ("commands", info.commands),
        ]
        for label, values in rows:
            if values:
                click.echo(f"  {label}: {', '.join(values)}")


@main.group()
def sync() -> None:
    """Mirror a clinic of another instance of this CMS."""


@sync.command("pull")
@click.option("--from", "source", required=True, metavar="URL", help="The origin's base URL.")
@click.option("--clinic", required=True, help="The clinic (slug) to mirror.")
@click.option(
    "--token",
    envvar="CMS_SYNC_TOKEN",
    default=None,
    help="Sent as `Authorization: Bearer` with the origin's change feed (or CMS_SYNC_TOKEN); "
    "entries are always read as the public reads them.",
)
@click.option(
    "--max-events",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after applying this many changes; the next pull resumes after them.",
)
@click.option("--batch", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="Changes read per page of the origin's feed.")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="Print the summary only.")
def sync_pull(
    source: str, clinic: str, token: str | None, max_events: int | None, batch: int, quiet: bool
) -> None:
    """Apply the origin's published changes to CLINIC since the last pull.

    Mirrored entries keep the origin's ids, canonical URLs and publication
    dates, and are read-only here. Each change is applied with the stored
    position in one transaction: an interrupted pull resumes where it stopped.
    """
    from cms.app import build_services
    from cms.client import Change
    from cms.syndication.sync import PullReport, SyncError, describe, pull

    services = _loading_plugins(lambda: build_services(_settings()))

    def show(event: Change, outcome: str) -> None:
        if not quiet:
            line = f"  {event.seq} {event.event} {event.type}/{event.slug}: {outcome}"
            click.echo(line, err=True)

    def summary(report: PullReport) -> str:
        return (
            f"{report.events} change(s) from {report.source} ({report.clinic}): "
            f"{report.upserts} entries written, {report.unchanged} unchanged, "
            f"{report.deletes} removed, {report.skipped} skipped; {describe(report)}"
        )

    async def go() -> PullReport:
        try:
            return await pull(
                services.sessions,
                services.plugins,
                services.renderer,
                source,
                clinic,
                token=token,
                max_events=max_events,
                batch=batch,
                progress=show,
            )
        finally:
            await services.engine.dispose()

    try:
        report = _run(go())
    except SyncError as exc:
        if exc.report is not None and exc.report.events:
            click.echo(summary(exc.report), err=True)
        where = ""
        if exc.report is not None:
            where = f"; the mirror stays at change {exc.report.position}"
        raise click.ClickException(f"{exc}{where}") from exc
    click.echo(summary(report))


@main.group()
def remote() -> None:
    """An entry of an instance as a content file: pull it, edit it, push it back."""


def _remote_client(url: str, token: str | None) -> Client:
    from cms.client import Client, InvalidBaseURL

    if not token:
        raise click.UsageError(
            "no token: pass --token or set CMS_TOKEN (a token of that instance: "
            "`cms tokens create` there, or an admin's POST /api/v1/tokens)"
        )
    try:
        return Client(url, token)
    except InvalidBaseURL as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from exc


def _remote_types() -> TypeRegistry:
    from cms.plugin_manager import load_plugins

    return _loading_plugins(lambda: load_plugins(_settings().plugins)).types


_REMOTE_AUTH_HELP = "Bearer token of that instance (or CMS_TOKEN)."


@remote.command("pull")
@click.argument("url")
@click.argument("key", metavar="TYPE/SLUG")
@click.option(
    "--into",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("content"),
    show_default=True,
    help="The content folder to write into, as <folder>/<plural>/<slug>.md.",
)
@click.option("--token", envvar="CMS_TOKEN", default=None, help=_REMOTE_AUTH_HELP)
def remote_pull(url: str, key: str, into: Path, token: str | None) -> None:
    """Write the working copy of TYPE/SLUG at URL as a content file, with its ETag.

    URL is the instance's base URL (https://cms.example.org). The file is the
    one `cms content dump` writes for the entry, plus `etag:` in its front
    matter; edit it, then `cms remote push` it.
    """
    from cms.client import ClientError
    from cms.remote import RemoteError, pull

    types = _remote_types()
    with _remote_client(url, token) as client:
        try:
            path = pull(client, types, key, into)
        except (RemoteError, ClientError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {path}")


@remote.command("push")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--url",
    envvar="CMS_URL",
    required=True,
    help="The instance's base URL, as given to `pull` (or CMS_URL).",
)
@click.option("--token", envvar="CMS_TOKEN", default=None, help=_REMOTE_AUTH_HELP)
def remote_push(file: Path, url: str, token: str | None) -> None:
    """Send FILE back as a merge patch with If-Match from its `etag:`.

    On success FILE is rewritten from the server's answer, with the new ETag.
    If the entry changed on the server since FILE was pulled, nothing is
    changed (neither there nor in FILE): the differences are shown, and the
    exit status is 1.
    """
    from cms.client import ClientError
    from cms.remote import RemoteError, Stale, push

    types = _remote_types()
    with _remote_client(url, token) as client:
        try:
            pushed = push(client, types, file)
        except Stale as exc:
            click.echo(str(exc), err=True)
            click.echo("What differs, from the server's version (-) to your file (+):", err=True)
            click.echo(exc.diff, nl=False)
            click.echo(
                "Carry your edits over to the current version (pull it with --into another "
                "folder), then push that file.",
                err=True,
            )
            sys.exit(1)
        except (RemoteError, ClientError) as exc:
            raise click.ClickException(str(exc)) from exc
    entry = pushed.entry
    if pushed.changed:
        click.echo(f"pushed {file}: {entry.type}/{entry.slug} is at version {entry.version} "
                   f"({entry.status}); the file has its new ETag")  # fmt: skip
    else:
        click.echo(f"unchanged: {file} says what the server has (version {entry.version})")
