"""The app factory: everything is built here, nothing at import time."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Tag
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

import cms
from cms.access.throttle import FailureLimiter
from cms.editorial.workflow import run_scheduler
from cms.http import params
from cms.http.access.tokens import TOKEN_ROUTES
from cms.http.auth import (
    CALLER_DEPENDENCY,
    SECURITY_SCHEME,
    SECURITY_SCHEME_NAME,
    check_credentials,
)
from cms.http.cache_headers import conditional_get
from cms.http.cors import AllowedOrigins, cors
from cms.http.docs_page import DOCS_PAGE_ASSETS, DocsPage
from cms.http.editorial.preview import preview_handler
from cms.http.editorial.writes import write_routes
from cms.http.health import health, ready
from cms.http.index import index_routes
from cms.http.methods import head_as_get, options_routes
from cms.http.metrics import METRICS_SCHEME, METRICS_SCHEME_NAME, Metrics, metrics
from cms.http.observability import observe, record_route
from cms.http.operations import PARAMETERS, declare_conditional_gets
from cms.http.plugins import list_plugins
from cms.http.problems import EXCEPTION_HANDLERS
from cms.http.reading.entries import entry_routes
from cms.http.reading.feeds import feed_routes
from cms.http.reading.links import link_routes
from cms.http.reading.search import search_routes
from cms.http.response_cache import ResponseCache
from cms.http.schema_names import check_schema_names
from cms.http.security_headers import security_headers
from cms.http.syndication.changes import change_routes
from cms.http.syndication.webhooks import WEBHOOK_ROUTES
from cms.markdown import Renderer, RenderLimits
from cms.plugin_manager import PluginList, Plugins, call_hook, check_routes, describe, load_plugins
from cms.settings import Settings, SettingsError
from cms.storage.db import create_engine, is_sqlite, session_factory, writing
from cms.storage.tables import Clock, utcnow
from cms.syndication.purges import purge_reader
from cms.syndication.webhooks import run_webhooks

DOCS = "/schema"
DOCS_ASSETS = f"{DOCS}/assets"
"""Where the docs page's own copy of Swagger UI is served: the page needs no other origin."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def swagger_ui_assets() -> Path:
    """The folder of Swagger UI 5 files vendored by the ``swagger-ui-py`` package.

    Found without importing the package, which would load its template engine for nothing.
    """
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the docs page needs the swagger-ui-py package")
    return Path(spec.submodule_search_locations[0]) / "static"


@dataclass
class Services:
    """What handlers and commands share for the life of one app."""

    settings: Settings
    plugins: Plugins
    renderer: Renderer
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cache: ResponseCache
    store: Store
    """Short-lived shared state: in memory, or in Redis when ``CMS_REDIS_URL`` is set."""
    limiter: FailureLimiter
    origins: AllowedOrigins
    """The origins browsers may call the API from (CORS)."""
    clock: Clock = utcnow
    """The time, as requests and the scheduler read it (see :data:`cms.storage.tables.Clock`)."""
    keys: dict[str, bytes] = field(default_factory=dict)
    """Signing keys, by purpose, once read from the settings or the database."""
    write_turns: asyncio.Lock | None = None
    """On SQLite, where one writer at a time is all there is, this process's
    writing requests queue here, first come first served, rather than polling
    for the database's lock (which, under load, can starve one past the busy
    timeout). None on PostgreSQL, whose row locks let writers overlap."""
    plugin_report: PluginList | None = None
    """What each plugin registered, routes included (set by :func:`create_app`)."""
    metrics: Metrics = field(default_factory=Metrics)
    """What this process counts, for ``GET /metrics``."""
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    """The background tasks the app runs, by name (``scheduler``, ``webhooks``), for ``/ready``."""


def make_store(settings: Settings) -> Store:
    """A Redis store when ``CMS_REDIS_URL`` is set (shared by workers), else one in memory.

    Raises:
        SettingsError: Redis is configured but its client is not installed.
    """
    if not settings.redis_url:
        return MemoryStore()
    try:
        from litestar.stores.redis import RedisStore
    except ImportError as exc:
        raise SettingsError(
            "CMS_REDIS_URL needs the Redis client: pip install 'clinic-cms[redis]'"
        ) from exc
    return RedisStore.with_client(url=settings.redis_url, namespace=settings.redis_namespace)


def build_services(
    settings: Settings, plugins: Sequence[object] | None = None, *, clock: Clock = utcnow
) -> Services:
    """Load plugins and build the renderer and engine (no connection is opened yet).

    Args:
        clock: what tells the time; tests pass their own to move it on.
    """
    loaded = load_plugins(settings.plugins, plugins, settings=settings)
    extensions = [ext for exts in loaded.markdown_extensions.values() for ext in exts]
    engine = create_engine(settings.database_url)
    purges = purge_reader(settings.database_url, engine)
    store = make_store(settings)
    sessions = session_factory(engine)
    counted = Metrics()
    cache = ResponseCache(purges, counted=counted.count_cache)
    return Services(
        settings=settings,
        plugins=loaded,
        renderer=Renderer(
            extensions,
            limits=RenderLimits(
                max_chars=settings.max_body_chars, max_seconds=settings.max_render_seconds
            ),
        ),
        engine=engine,
        sessions=sessions,
        cache=cache,
        store=store,
        limiter=FailureLimiter(
            store,
            limit=settings.auth_failure_limit,
            window=settings.auth_failure_window,
            clock=clock,
        ),
        origins=AllowedOrigins(settings.cors_origins, sessions, cache.purge_number),
        clock=clock,
        write_turns=asyncio.Lock() if is_sqlite(settings.database_url) else None,
        metrics=counted,
    )


def webhook_loop(services: Services) -> Coroutine[Any, Any, None]:
    """The webhook delivery loop of these services, as their settings configure it."""
    settings = services.settings
    return run_webhooks(
        services.sessions,
        services.plugins.types,
        poll_interval=settings.webhook_poll_interval,
        schedule=settings.webhook_retry_schedule,
        request_timeout=settings.webhook_timeout,
    )


async def provide_session(
    state: State, request: Request[Any, Any, Any]
) -> AsyncGenerator[AsyncSession, None]:
    """One session per request, closed when the response is sent.

    A request that may write gets a writing session: on SQLite it waits for its
    turn among this process's writers, then its transaction takes the write
    lock before its first read, so reading first and then writing can never
    fail because another writer committed in between.
    """
    services: Services = state.services
    if request.method in SAFE_METHODS:
        async with services.sessions() as session:
            yield session
        return
    turn = services.write_turns or nullcontext()
    async with turn, writing(services.sessions) as session:
        yield session


def create_app(
    settings: Settings | None = None,
    plugins: Sequence[object] | None = None,
    *,
    clock: Clock = utcnow,
) -> Litestar:
    """Build the app.

    Args:
        settings: configuration; read from ``CMS_*`` variables when omitted.
        plugins: plugin objects to load instead of the installed ones (tests
            pass the plugins they want); the core types are always loaded.
        clock: what tells the time (tests pass their own clock to move it on).
    """
    settings = settings or Settings.from_env()
    services = build_services(settings, plugins, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        tasks = services.tasks
        if settings.scheduler_interval > 0:
            tasks["scheduler"] = asyncio.create_task(
                run_scheduler(
                    services.sessions,
                    services.plugins,
                    services.renderer,
                    interval=settings.scheduler_interval,
                    clock=services.clock,
                ),
                name="cms-scheduler",
            )
        if settings.webhook_delivery == "server":
            tasks["webhooks"] = asyncio.create_task(webhook_loop(services), name="cms-webhooks")
        try:
            async with services.store:
                yield
        finally:
            for task in tasks.values():
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            tasks.clear()
            services.cache.reader.close()
            await services.engine.dispose()
            services.metrics.close()

    # Every route with the plugin that serves it: a route served twice fails
    # here, naming both plugins, before Litestar sees it.
    core_routes = (
        health,
        ready,
        metrics,
        list_plugins,
        *TOKEN_ROUTES,
        *WEBHOOK_ROUTES,
        preview_handler,
    )
    owned: list[tuple[str, Any]] = [("cms", h) for h in core_routes]
    owned.extend(("cms", h) for h in index_routes(settings, services.plugins.types, docs=DOCS))
    for ctype in services.plugins.types:
        owned.extend(
            (ctype.plugin, h)
            for h in (
                *entry_routes(
                    ctype, settings, services.cache, services.sessions, services.plugins.types
                ),
                *write_routes(ctype),
            )
        )
    owned.extend(
        ("cms", h)
        for h in search_routes(settings, services.plugins.types, services.cache, services.sessions)
    )
    owned.extend(("cms", h) for h in link_routes(settings, services.plugins.types))
    owned.extend(
        ("cms", h)
        for h in change_routes(settings, services.plugins.types, services.cache, services.sessions)
    )
    owned.extend(feed_routes(settings, services.plugins.types, services.cache, services.sessions))
    for name, routes in call_hook(services.plugins.manager, "register_routes"):
        owned.extend((name, r) for r in routes)
    route_owners = check_routes(owned)
    services.plugin_report = describe(services.plugins, route_owners)
    # The OPTIONS handlers go first: a path's first handler would get a default one.
    route_handlers: list[Any] = [h for _owner, h in owned]
    route_handlers[:0] = options_routes(route_handlers)
    route_handlers.append(
        create_static_files_router(
            path=DOCS_ASSETS,
            directories=[swagger_ui_assets(), DOCS_PAGE_ASSETS],
            include_in_schema=False,
        )
    )

    app = Litestar(
        route_handlers=route_handlers,
        dependencies={"session": Provide(provide_session), "caller": CALLER_DEPENDENCY},
        guards=[check_credentials],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[conditional_get, record_route],
        before_request=params.refuse_nul,
        lifespan=[lifespan],
        state=State({"services": services}),
        openapi_config=OpenAPIConfig(
            title="Clinic CMS",
            version=cms.__version__,
            description="Published content of a clinic group: clinics, practitioners, "
            "conditions, articles and plugin types. Errors are RFC 9457 problem details. "
            "Every GET also answers HEAD (the same status and headers, no body), and every "
            "path OPTIONS (`Allow` names its methods); neither is listed per operation. "
            "A bearer token is checked wherever it is sent, public routes included: an "
            "unknown, revoked or expired one is a 401, never taken for no token. "
            "Every response carries `X-Request-ID`: the request's own when it sent a sane one "
            "(1 to 128 of `A-Z a-z 0-9 - _ . : + / = @`), else a new one; the logs name it. "
            "Browsers may call the API from the published clinics' sites and the origins "
            "the instance configures (CORS). No text holds U+0000 (NUL): a path, query "
            "value or body string with one is a 400.",
            path=DOCS,
            tags=[
                *(Tag(name=t.label, description=t.description) for t in services.plugins.types),
                Tag(name="Search", description="Full-text search across every type."),
                Tag(name="Links", description="Internal links between entries."),
                Tag(
                    name="Syndication",
                    description="The change feed, feeds and webhooks: keeping other sites "
                    "and instances in step.",
                ),
                Tag(name="Tokens", description="Bearer tokens for editors (admins only)."),
                Tag(name="Preview", description="Signed links to working copies, no token."),
            ],
            components=Components(
                security_schemes={
                    SECURITY_SCHEME_NAME: SECURITY_SCHEME,
                    METRICS_SCHEME_NAME: METRICS_SCHEME,
                },
                parameters=dict(PARAMETERS),
            ),
            render_plugins=[DocsPage(assets=DOCS_ASSETS)],
        ),
        debug=False,
        # The process configures logging (`cms serve`: cms.logs), never the app.
        logging_config=None,
    )
    # HEAD, the methods' Allow and CORS wrap the router itself, as Litestar's own
    # CORSConfig does: the app's `middleware` runs only once a route has matched
    # (no route takes HEAD, and a 405 never gets there), and CORSConfig knows
    # only a fixed list of origins and one set of methods for every path. Being
    # outside, they also see the response cache's bytes as sent, never cached.
    app.asgi_handler = cors(head_as_get(app.asgi_handler), services.origins)
    # The security headers go on every answer, whoever made it.
    app.asgi_handler = security_headers(app.asgi_handler)
    # Outside everything: request ids, the access log and request metrics see every answer.
    app.asgi_handler = observe(app.asgi_handler, services.metrics, services.engine.pool)
    declare_conditional_gets(app)
    check_schema_names(app, services.plugins.types, route_owners)
    return app
