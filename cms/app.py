"""The app factory: everything is built here, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, Tag
from litestar.static_files import create_static_files_router
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from swagger_ui_bundle import swagger_ui_path

import cms
from cms.api.caching import conditional_get
from cms.api.entries import entry_routes
from cms.api.health import health, ready
from cms.api.links import link_routes
from cms.api.problems import EXCEPTION_HANDLERS
from cms.api.search import search_routes
from cms.markdown import Renderer
from cms.plugins import Plugins, call_hook, load_plugins
from cms.settings import Settings
from cms.storage.db import create_engine, session_factory

DOCS_ASSETS = "/schema/assets"


@dataclass
class Services:
    """What handlers and commands share for the life of one app."""

    settings: Settings
    plugins: Plugins
    renderer: Renderer
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


def build_services(settings: Settings, plugins: Sequence[object] | None = None) -> Services:
    """Load plugins and build the renderer and engine (no connection is opened yet)."""
    loaded = load_plugins(settings.plugins, plugins)
    extensions = [
        ext
        for _name, exts in call_hook(loaded.manager, "register_markdown_extensions")
        for ext in exts
    ]
    engine = create_engine(settings.database_url)
    return Services(
        settings=settings,
        plugins=loaded,
        renderer=Renderer(extensions),
        engine=engine,
        sessions=session_factory(engine),
    )


async def provide_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """One session per request, closed when the response is sent."""
    services: Services = state.services
    async with services.sessions() as session:
        yield session


def create_app(
    settings: Settings | None = None, plugins: Sequence[object] | None = None
) -> Litestar:
    """Build the app.

    Args:
        settings: configuration; read from ``CMS_*`` variables when omitted.
        plugins: plugin objects to load instead of the installed ones (tests
            pass the plugins they want); the core types are always loaded.
    """
    settings = settings or Settings.from_env()
    services = build_services(settings, plugins)

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await services.engine.dispose()

    route_handlers: list[Any] = [health, ready]
    for ctype in services.plugins.types:
        route_handlers.extend(entry_routes(ctype, settings, services.plugins.types))
    route_handlers.extend(search_routes(settings, services.plugins.types))
    route_handlers.extend(link_routes(settings, services.plugins.types))
    for _name, routes in call_hook(services.plugins.manager, "register_routes"):
        route_handlers.extend(routes)
    route_handlers.append(
        create_static_files_router(
            path=DOCS_ASSETS, directories=[swagger_ui_path], include_in_schema=False
        )
    )

    return Litestar(
        route_handlers=route_handlers,
        dependencies={"session": Provide(provide_session)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[conditional_get],
        lifespan=[lifespan],
        state=State({"services": services}),
        openapi_config=OpenAPIConfig(
            title="Clinic CMS",
            version=cms.__version__,
            description="Published content of a clinic group: clinics, practitioners, "
            "conditions, articles and plugin types. Errors are RFC 9457 problem details.",
            path="/schema",
            tags=[
                *(Tag(name=t.label, description=t.description) for t in services.plugins.types),
                Tag(name="Search", description="Full-text search across every type."),
                Tag(name="Links", description="Internal links between entries."),
            ],
            components=Components(),
            render_plugins=[
                SwaggerRenderPlugin(
                    path="/",
                    js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
                )
            ],
        ),
        debug=False,
    )
