"""Logs: one line per event on stderr, JSON or text, naming its request, never a secret.

``cms serve`` and ``cms worker`` configure logging with :func:`log_config`
(``CMS_LOG_FORMAT``: ``json``, the default, or ``text``; ``CMS_LOG_LEVEL``);
the app itself never touches the logging configuration, so a test or another
server embedding it keeps its own.

Every line written while a request is served carries that request's id
(:class:`RequestContext`, kept in a context variable by the HTTP layer that
made it), whichever logger wrote it. The access log (logger ``cms.access``)
writes one line per request with its fields (:func:`fields`).

Secrets never reach a line: nothing logs a request's headers or query
string, the libraries that would log statements and their parameters
(aiosqlite at debug level) or webhook URLs (httpx) are held at ``WARNING``,
and :func:`redact` rewrites, in every message and traceback, whatever has the
shape of a credential: a ``Bearer`` value, an API token's secret part, a
``whsec_`` webhook secret, a preview link, a password in a URL.
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.config
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import msgspec

from cms.dates import iso
from cms.settings import Settings
from cms.urls import API

ACCESS_LOGGER = "cms.access"
FIELDS = "cms_fields"
"""The attribute of a log record holding its structured fields (see :func:`fields`)."""
QUIET_LOGGERS = {
    "aiosqlite": "WARNING",  # at debug level it logs every statement with its parameters
    "alembic": "WARNING",  # its plugins announce themselves as the app imports it
    "httpx": "WARNING",  # one line per webhook request, naming the receiver's URL
    "httpcore": "WARNING",
    "sqlalchemy": "WARNING",
    "uvicorn.access": "WARNING",  # the app writes the access log (ACCESS_LOGGER)
}
"""Libraries whose chatter is held back whatever ``CMS_LOG_LEVEL`` says."""
TRACE = 5
"""uvicorn's level below ``DEBUG`` (``CMS_LOG_LEVEL=trace``)."""
REDACTED = "[redacted]"
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)(\s+)[^\s,;\"'\\]+"), rf"\1\2{REDACTED}"),
    # An API token: cms_<16 hex id>_<secret>; the id is public and kept.
    (re.compile(r"\b(cms_[0-9a-f]{16}_)[A-Za-z0-9_-]+"), rf"\1{REDACTED}"),
    (re.compile(r"\b(whsec_)[A-Za-z0-9+/=]+"), rf"\1{REDACTED}"),
    # A preview link is its own credential (cms.http.editorial.preview); the
    # route template (`.../preview/{token}`) is kept.
    (re.compile(rf"({re.escape(API)}/preview/)(?!\{{)[^\s/?#\"'\\]+"), rf"\1{REDACTED}"),
    # user:password@ in a URL (a database or Redis URL in an error).
    (re.compile(r"(://[^/\s:@\"']+:)[^@\s/\"']+@"), rf"\1{REDACTED}@"),
)


@dataclass
class RequestContext:
    """What the logs and metrics know of the request being served."""

    request_id: str
    route: str | None = None
    """The route template that matched (``/api/v1/articles/{slug}``); None when none did."""
    token_id: str | None = None
    """The public id of the token the request authenticated with."""


REQUEST: ContextVar[RequestContext | None] = ContextVar("cms_request", default=None)
"""The request being served by the current task, if any."""


def current_request() -> RequestContext | None:
    """The context of the request being served, or None outside one."""
    return REQUEST.get()


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` of a log call whose values are written as fields of their own.

    ``logger.info("...", extra=fields(status=200))`` writes ``"status": 200``
    in a JSON line and ``status=200`` after a text line's message.
    """
    return {FIELDS: values}


def redact(text: str) -> str:
    """``text`` with everything shaped like a credential replaced by ``[redacted]``."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _details(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, Any]:
    """The parts of a line every format writes: request id, fields, traceback."""
    out: dict[str, Any] = {}
    context = REQUEST.get()
    if context is not None:
        out["request_id"] = context.request_id
    for name, value in (getattr(record, FIELDS, None) or {}).items():
        out[name] = redact(value) if isinstance(value, str) else value
    if record.exc_info:
        out["exception"] = redact(formatter.formatException(record.exc_info))
    if record.stack_info:
        out["stack"] = redact(formatter.formatStack(record.stack_info))
    return out


def _encode_default(value: Any) -> str:
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, process id, message, request id
    (within a request), fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": iso(dt.datetime.fromtimestamp(record.created, dt.UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # tells the workers of `cms serve --workers N` apart
            "message": redact(record.getMessage()),
            **_details(record, self),
        }
        return msgspec.json.encode(line, enc_hook=_encode_default).decode()


class TextFormatter(logging.Formatter):
    """``time level logger [request id]: message key=value...``, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        details = _details(record, self)
        when = iso(dt.datetime.fromtimestamp(record.created, dt.UTC))
        request = f" [{details.pop('request_id')}]" if "request_id" in details else ""
        trace = [details.pop(k) for k in ("exception", "stack") if k in details]
        pairs = "".join(f" {k}={v}" for k, v in details.items())
        head = f"{when} {record.levelname} {record.name}{request}: "
        return "\n".join([head + redact(record.getMessage()) + pairs, *trace])


def log_config(settings: Settings) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of ``cms serve`` (uvicorn's ``log_config``) and
    ``cms worker``: every logger, uvicorn's included, through one stderr handler."""
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    level = _level(settings.log_level)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"cms": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "cms",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's loggers bring handlers of their own by default: through ours instead.
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            **{
                name: {"level": max(level, _level(quiet)), "handlers": [], "propagate": True}
                for name, quiet in QUIET_LOGGERS.items()
            },
        },
    }


def _level(name: str) -> int:
    """The number of a level name (checked by the settings), uvicorn's ``trace`` included."""
    return {"TRACE": TRACE, **logging.getLevelNamesMapping()}[name.upper()]


def configure_logging(settings: Settings) -> None:
    """Configure this process's logging as :func:`log_config` says."""
    logging.config.dictConfig(log_config(settings))
