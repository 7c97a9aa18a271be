"""Liveness and readiness probes.

``/health`` answers while the process runs and touches nothing else.
``/ready`` names the state of each thing serving depends on, checked at
once, each within :data:`CHECK_TIMEOUT`:

- ``database``: a trivial query answers;
- ``migrations``: the database holds every migration this code and its
  plugins ship (one it does not know, from a newer deployment, is no
  reason to stop serving: its detail says so);
- ``redis``: the shared store answers, when ``CMS_REDIS_URL`` is set;
- ``scheduler`` and ``webhooks``: this process's background tasks run,
  when it runs them (``off`` when another process does).

A state is ``ok``, ``off`` or ``failing``; any ``failing`` makes the answer
a 503 problem listing them all. Neither is ever stored by a cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from cms.http.problems import (
    PROBLEM_BASE,
    PROBLEM_MEDIA_TYPE,
    Problem,
    error_responses,
    problem_response,
)
from cms.schemas import Base
from cms.storage.migrate import MigrationState, migration_state

CHECK_TIMEOUT = 5.0
"""Seconds one dependency has to answer before it counts as failing."""
NO_STORE = {"Cache-Control": "no-store"}
DependencyStatus = Literal["ok", "off", "failing"]


class Health(Base):
    """The process is up (liveness)."""

    status: str


class Dependency(Base):
    """The state of one thing serving depends on."""

    status: DependencyStatus
    """`ok`; `off` when this process does not use it; `failing`."""
    detail: str = ""
    """Why it is failing or off, in a few words (never a URL or a secret)."""


class Readiness(Base):
    """Every dependency is ok or off: the process can serve."""

    status: Literal["ready"]
    dependencies: dict[str, Dependency]
    """By name: `database`, `migrations`, `redis`, `scheduler`, `webhooks`."""


class NotReadyProblem(Problem):
    """503: some dependency is failing."""

    dependencies: dict[str, Dependency] = msgspec.field(default_factory=dict)
    """By name, as :class:`Readiness` lists them."""


@get(
    "/health",
    operation_id="health",
    summary="Liveness: the process answers",
    tags=["Operations"],
    responses=error_responses(),
)
async def health() -> Health:
    """Answers as long as the process runs; touches nothing else."""
    return Health(status="ok")


async def _checked(check: Callable[[], Awaitable[Dependency]]) -> Dependency:
    """``check()``, failing (naming the error's kind, never its text) when it raises or hangs."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await check()
    except TimeoutError:
        return Dependency(status="failing", detail=f"no answer in {CHECK_TIMEOUT:g} s")
    except Exception as exc:  # whatever the driver raises, the probe answers
        return Dependency(status="failing", detail=type(exc).__name__)


def _task(task: asyncio.Task[None] | None, runs_here: bool, elsewhere: str) -> Dependency:
    if not runs_here:
        return Dependency(status="off", detail=elsewhere)
    if task is None:
        return Dependency(status="failing", detail="not started")
    if task.done():
        error = None if task.cancelled() else task.exception()
        return Dependency(
            status="failing", detail=f"stopped ({type(error).__name__})" if error else "stopped"
        )
    return Dependency(status="ok")


async def dependencies(services: Any) -> dict[str, Dependency]:
    """The state of everything serving depends on, checked at once."""
    settings = services.settings

    async def database() -> Dependency:
        async with services.sessions() as session:
            await session.exec(text("SELECT 1"))
        return Dependency(status="ok")

    async def migrations() -> Dependency:
        async with services.sessions() as session:
            state: MigrationState = await migration_state(session, services.plugins.migrations)
        if state.missing:
            return Dependency(
                status="failing", detail="not upgraded: run `cms db upgrade`"
            )  # fmt: skip
        if state.unknown:
            return Dependency(
                status="ok", detail="the database has migrations newer than this code"
            )
        return Dependency(status="ok")

    async def redis() -> Dependency:
        if not settings.redis_url:
            return Dependency(status="off", detail="CMS_REDIS_URL is not set")
        await services.store.exists("ready")
        return Dependency(status="ok")

    checked = await asyncio.gather(
        _checked(database), _checked(migrations), _checked(redis)
    )  # fmt: skip
    tasks = services.tasks
    return {
        "database": checked[0],
        "migrations": checked[1],
        "redis": checked[2],
        "scheduler": _task(
            tasks.get("scheduler"),
            settings.scheduler_interval > 0,
            "CMS_SCHEDULER_INTERVAL is 0: scheduled publishing runs elsewhere",
        ),
        "webhooks": _task(
            tasks.get("webhooks"),
            settings.webhook_delivery == "server",
            "CMS_WEBHOOK_DELIVERY is worker: `cms worker` sends them",
        ),
    }


@get(
    "/ready",
    operation_id="ready",
    summary="Readiness: what serving depends on",
    description="The state of each dependency: the database, its migrations, Redis (when "
    "configured), and this process's scheduled publishing and webhook delivery (when it runs "
    "them). 200 when none is failing, else a 503 problem listing them all.",
    tags=["Operations"],
    responses={
        200: ResponseSpec(
            data_container=Readiness,
            description="No dependency is failing.",
            generate_examples=False,
        ),
        **error_responses(),
        503: ResponseSpec(
            data_container=NotReadyProblem,
            description="Some dependency is failing; `dependencies` names each one's state.",
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        ),
    },
)
async def ready(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """200 with each dependency's state when none is failing; a 503 problem otherwise."""
    found = await dependencies(state.services)
    failing = [name for name, dep in found.items() if dep.status == "failing"]
    if failing:
        return problem_response(
            request,
            NotReadyProblem(
                type=PROBLEM_BASE + "not-ready",
                title="Not ready",
                status=503,
                detail=f"Failing: {', '.join(failing)}.",
                dependencies=found,
            ),
            NO_STORE,
        )
    return Response(Readiness(status="ready", dependencies=found), headers=NO_STORE)
