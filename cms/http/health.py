"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession

from cms.http.problems import Problem, error_responses, problem_response
from cms.schemas import Base


class Health(Base):
    """The process is up (liveness) or its database answers (readiness)."""

    status: str


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


@get(
    "/ready",
    operation_id="ready",
    summary="Readiness: the database answers",
    tags=["Operations"],
    responses=error_responses(http_503="The database cannot be reached."),
)
async def ready(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> Response[Health]:
    """Answers 200 when a trivial query succeeds, 503 otherwise."""
    try:
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except (SQLAlchemyError, OSError) as exc:
        return problem_response(  # type: ignore[return-value]
            request,
            Problem(title="Database unavailable", status=503, detail=type(exc).__name__),
        )
    return Response(Health(status="ready"))
