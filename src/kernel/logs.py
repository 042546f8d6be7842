"""Log lines that carry the request id: a context variable set per request and a ``logging.Filter`` that copies it
onto every record, wired into Litestar's logging configuration and uvicorn's.

A line logged while a request is being served (by our code, by Litestar, or uvicorn's access line) reads
``INFO laocai.rate_limits [3f2a...] message``; outside a request the id is ``-``.
"""

import copy
import logging
import re
from contextvars import ContextVar
from typing import Any

from litestar.logging import LoggingConfig
from litestar.logging.config import default_handlers

#: The id of the request being served in this task (``-`` outside any request).
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")

LOG_FORMAT = "%(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (the current ``REQUEST_ID``) to every record; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


#: Paths whose last segment is a secret (the iCal export's capability URL): access lines show it redacted.
_SECRET_PATH = re.compile(r"^(/v1/ical/)[^/?]+")


class SecretPathFilter(logging.Filter):
    """Redacts capability secrets in uvicorn's access lines (``GET /v1/ical/<secret>.ics`` is logged as
    ``/v1/ical/[redacted]``): a URL that grants access must not end up in log storage. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "/v1/ical/" in args[2]:
            record.args = (*args[:2], _SECRET_PATH.sub(r"\1[redacted]", args[2]), *args[3:])
        return True


def logging_config(**options: Any) -> LoggingConfig:
    """Litestar's default logging (a queue handler on the root logger) with the request id in every line."""
    handlers = {
        name: {**handler, "filters": ["request_id"]} for name, handler in copy.deepcopy(default_handlers).items()
    }
    return LoggingConfig(
        filters={"request_id": {"()": RequestIdFilter}},
        formatters={"standard": {"format": LOG_FORMAT}},
        handlers=handlers,
        # SAQ logs every enqueued job at INFO ("Enqueuing Job<...>"): a line per webhook event in a web process
        loggers={
            "litestar": {"level": "INFO", "handlers": ["queue_listener"], "propagate": False},
            "saq": {"level": "WARNING", "handlers": ["queue_listener"], "propagate": False},
        },
        **options,
    )


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the request id in its error and access lines."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdFilter}, "secret_paths": {"()": SecretPathFilter}}
    for name, handler in config["handlers"].items():
        handler["filters"] = ["request_id", "secret_paths"] if name == "access" else ["request_id"]
    config["formatters"]["default"]["fmt"] = "%(levelprefix)s [%(request_id)s] %(message)s"
    config["formatters"]["access"]["fmt"] = (
        '%(levelprefix)s [%(request_id)s] %(client_addr)s - "%(request_line)s" %(status_code)s'
    )
    return config
