"""Log lines that carry the request id: a context variable set per request and a ``logging.Filter`` that copies it
onto every record, wired into Litestar's logging configuration and uvicorn's.

A line logged while a request is being served (by our code, by Litestar, or uvicorn's access line) reads
``INFO laocai.rate_limits [3f2a...] message``; outside a request the id is ``-``.
"""

import copy
import logging
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


def logging_config(**options: Any) -> LoggingConfig:
    """Litestar's default logging (a queue handler on the root logger) with the request id in every line."""
    handlers = {
        name: {**handler, "filters": ["request_id"]} for name, handler in copy.deepcopy(default_handlers).items()
    }
    return LoggingConfig(
        filters={"request_id": {"()": RequestIdFilter}},
        formatters={"standard": {"format": LOG_FORMAT}},
        handlers=handlers,
        **options,
    )


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the request id in its error and access lines."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdFilter}}
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    config["formatters"]["default"]["fmt"] = "%(levelprefix)s [%(request_id)s] %(message)s"
    config["formatters"]["access"]["fmt"] = (
        '%(levelprefix)s [%(request_id)s] %(client_addr)s - "%(request_line)s" %(status_code)s'
    )
    return config
