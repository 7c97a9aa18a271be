"""Prometheus metrics, served at ``GET /metrics``.

Two kinds:

- **Counted by this process**, as requests are served: requests and their
  latency by method, route template (``/api/v1/articles/{slug}``, never the
  path itself, so a series per slug or per probed URL is never made) and
  status; response-cache hits and misses; the database pool, sampled after
  every request and at every scrape. With ``cms serve --workers N`` the
  workers write them to files in ``PROMETHEUS_MULTIPROC_DIR`` (which ``cms
  serve`` makes, and removes when it stops) and a scrape of any worker sums
  them all: prometheus-client's multi-process mode.
- **Read from the database** at each scrape, so the same in every worker and
  whichever process does the work (a server or ``cms worker``): the webhook
  backlog and failures, and how late scheduled publishing runs.

``GET /metrics`` is not counted itself, so scraping never moves what it
reports. With ``CMS_METRICS_TOKEN`` set it answers only that bearer token.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Iterator
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import SecurityScheme
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import Pool, QueuePool

from cms.access.throttle import FailureLimiter
from cms.editorial.workflow import overdue
from cms.http.auth import OWN_CREDENTIALS, TOKEN_ERRORS, failed_authentication
from cms.http.problems import error_responses
from cms.syndication.webhooks import backlog

METRICS_PATH = "/metrics"
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's variable: when set, metrics are kept in files there, per process."""
UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404, a 405)."""
MEDIA_TYPE = "text/plain; version=0.0.4"
"""Prometheus' text format (the server adds ``charset=utf-8``)."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other is counted as ``other``."""


class Metrics:
    """What this process counts: made once per app, read by ``GET /metrics``."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_DIR))
        self.registry = CollectorRegistry()
        # In multi-process mode the values live in files, read by a collector
        # of those files at each scrape; registering them here would read only ours.
        own = None if self.multiprocess else self.registry
        self.requests = Counter(
            "cms_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "cms_http_request_duration_seconds",
            "Seconds from a request's arrival to its response's last byte, by method and route.",
            ["method", "route"],
            registry=own,
        )
        self.cache_hits = Counter(
            "cms_response_cache_hits", "Public reads answered from the response cache.",
            registry=own,
        )  # fmt: skip
        self.cache_misses = Counter(
            "cms_response_cache_misses", "Public reads the response cache had to build.",
            registry=own,
        )  # fmt: skip

        def pool_gauge(name: str, documentation: str) -> Gauge:
            return Gauge(name, documentation, multiprocess_mode="livesum", registry=own)

        self.pool_size = pool_gauge("cms_db_pool_size", "Connections the pool keeps open at most.")
        self.pool_checked_out = pool_gauge(
            "cms_db_pool_checked_out", "Connections in use by a request or task."
        )
        self.pool_idle = pool_gauge("cms_db_pool_idle", "Open connections waiting in the pool.")
        self.pool_overflow = pool_gauge(
            "cms_db_pool_overflow", "Connections open beyond the pool's size."
        )
        self._pool_sample: tuple[int, int, int, int] | None = None
        if not self.multiprocess:
            ProcessCollector(registry=self.registry)

    def count_request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        """Count one answered request (``route`` None: no route matched)."""
        route = route or UNMATCHED
        if route == METRICS_PATH:
            return
        method = method if method in METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def count_cache(self, hit: bool) -> None:
        """Count one look-up of the response cache."""
        (self.cache_hits if hit else self.cache_misses).inc()

    def sample_pool(self, pool: Pool) -> None:
        """Set the pool gauges from ``pool`` (only when they moved: a file write each)."""
        if not isinstance(pool, QueuePool):
            return
        sample = (pool.size(), pool.checkedout(), pool.checkedin(), max(0, pool.overflow()))
        if sample == self._pool_sample:
            return
        self._pool_sample = sample
        for gauge, value in zip(
            (self.pool_size, self.pool_checked_out, self.pool_idle, self.pool_overflow),
            sample,
            strict=True,
        ):
            gauge.set(value)

    def exposition(self, *collectors: Collector) -> bytes:
        """What a scrape reads: this process's metrics (every worker's), and ``collectors``'."""
        if self.multiprocess:
            counted = CollectorRegistry()
            MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
        else:
            counted = self.registry
        extra = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            extra.register(collector)
        return generate_latest(counted) + generate_latest(extra)

    def close(self) -> None:
        """Forget this process's gauges when it stops (the sums are over live workers)."""
        if self.multiprocess:
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class Snapshot(Collector):
    """Gauges read once from the database, for one scrape."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


async def database_snapshot(services: Any) -> Snapshot:
    """The gauges read from the database; ``cms_database_up`` 0 (and no others) when it fails."""
    now = services.clock()
    try:
        async with services.sessions() as session:
            webhooks = await backlog(session, now=now)
            scheduled = await overdue(session, now=now)
    except (SQLAlchemyError, OSError):
        return Snapshot([_gauge("cms_database_up", "Whether the database answered.", 0)])
    return Snapshot(
        [
            _gauge("cms_database_up", "Whether the database answered.", 1),
            _gauge(
                "cms_webhook_undispatched_changes",
                "Changes not yet turned into webhook deliveries.",
                webhooks.undispatched,
            ),
            _gauge(
                "cms_webhook_backlog",
                "Webhook deliveries waiting to be sent, due now or later.",
                webhooks.pending,
            ),
            _gauge(
                "cms_webhook_retrying",
                "Webhook deliveries waiting to be sent again after a failed attempt.",
                webhooks.retrying,
            ),
            _gauge(
                "cms_webhook_failed",
                "Webhook deliveries given up after the whole retry schedule.",
                webhooks.failed,
            ),
            _gauge(
                "cms_webhook_disabled_endpoints",
                "Webhook endpoints disabled (a receiver answered 410 Gone).",
                webhooks.disabled_endpoints,
            ),
            _gauge(
                "cms_webhook_delivery_lag_seconds",
                "Seconds the longest-waiting due webhook delivery has waited (0: none waits).",
                webhooks.lag(now),
            ),
            _gauge(
                "cms_scheduler_overdue",
                "Scheduled entries whose time has come, not yet published.",
                scheduled.count,
            ),
            _gauge(
                "cms_scheduler_lag_seconds",
                "Seconds the longest-overdue scheduled entry has waited (0: none waits).",
                scheduled.lag(now),
            ),
        ]
    )


async def _check_token(
    request: Request[Any, Any, Any], expected: str, limiter: FailureLimiter
) -> None:
    """Refuse a request without ``Bearer <expected>``, as a failing API token is refused.

    The token is checked first: the right one is always served; only a
    failing one meets the limit of failed authentications per client.

    Raises:
        ProblemException: 401, or 429 when this client failed too often.
    """
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        return
    raise await failed_authentication(
        request, limiter, "The metrics need the bearer token CMS_METRICS_TOKEN names."
    )


METRICS_SCHEME_NAME = "metricsToken"
METRICS_SCHEME = SecurityScheme(
    type="http",
    scheme="bearer",
    description="The value of `CMS_METRICS_TOKEN`, when the instance sets it; it opens "
    "`/metrics` and nothing else.",
)


@get(
    METRICS_PATH,
    operation_id="metrics",
    opt={OWN_CREDENTIALS: True},  # its bearer value is CMS_METRICS_TOKEN, not an API token
    security=[{}, {METRICS_SCHEME_NAME: []}],
    summary="Prometheus metrics",
    description="Requests and latency by route template and status, response-cache hits and "
    "misses, the database pool, the webhook backlog and failures, and how late scheduled "
    "publishing runs, in Prometheus' text format. Open unless the instance sets "
    "`CMS_METRICS_TOKEN`; then only that bearer token may read them.",
    tags=["Operations"],
    responses={
        200: ResponseSpec(
            str,
            description="The metrics (Prometheus text exposition format).",
            media_type=MEDIA_TYPE,
            generate_examples=False,
        ),
        **{
            status: spec
            for status, spec in error_responses(
                http_401="`CMS_METRICS_TOKEN` is set and the request does not carry it.",
                http_429=TOKEN_ERRORS["http_429"],
            ).items()
            if status != 503  # a database that does not answer is `cms_database_up 0`
        },
    },
)
async def metrics(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    """Every metric, as a scrape reads them; never stored by a cache."""
    services = state.services
    token = services.settings.metrics_token
    if token:
        await _check_token(request, token, services.limiter)
    counted: Metrics = services.metrics
    snapshot = await database_snapshot(services)
    counted.sample_pool(services.engine.pool)  # after the snapshot gave its connection back
    body = counted.exposition(snapshot)
    return Response(body, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store"})
