"""One logging setup for the worker, the API and the CLI: JSON for machines, lines for people.

Why JSON when stderr is not a terminal: under compose, systemd or a CI runner a log shipper
reads the stream, and one JSON object per line lets it filter by workflow id, run id, activity
or trace id without parsing prose. A person at a terminal gets readable lines with the same
context at the end. `LIFECYCLE_LOG_FORMAT=json|plain` overrides the guess.

Every line goes through the `TemporalContextFilter` (workflow, run, activity, trace) and a
`Redactor` (API keys, bearer tokens, the process's own secrets), whichever format it takes.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from temporalio import activity, workflow

from core.log_context import CONTEXT_FIELDS, TEMPORAL_EXTRAS, TemporalContextFilter
from core.redaction import Redactor, settings_secrets
from core.settings import Settings

HANDLER_NAME = "lifecycle"
# uvicorn gives its loggers their own handlers; routed to the root, they get ours.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Libraries that log every request at INFO: noise, and the URL of a webhook may be a secret.
QUIET_LOGGERS = ("httpx", "httpcore")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName", "color_message", *CONTEXT_FIELDS, *TEMPORAL_EXTRAS}


def wants_json(log_format: str, stream: TextIO) -> bool:
    """`auto` means JSON unless a person is watching the stream."""
    if log_format == "auto":
        isatty = getattr(stream, "isatty", None)
        return not (callable(isatty) and isatty())
    return log_format == "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, extras."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._redact(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                doc[name] = value
        if record.exc_info:
            doc["exception"] = self._redact(self.formatException(record.exc_info))
        if record.stack_info:
            doc["stack"] = self._redact(self.formatStack(record.stack_info))
        # Extras are serialised as they come: redact the whole line once more for them.
        return self._redact(json.dumps(doc, default=str, ensure_ascii=False))


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger: message [workflow=... run=... activity=... trace=...]`."""

    SHOWN = (("workflow_id", "workflow"), ("run_id", "run"), ("activity", "activity"),
             ("trace_id", "trace"))

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{label}={getattr(record, name)}" for name, label in self.SHOWN
                           if getattr(record, name, None) is not None)
        if context:
            first, newline, rest = line.partition("\n")
            line = f"{first} [{context}]{newline}{rest}"
        return self._redact(line)


def build_handler(settings: Settings, stream: TextIO) -> logging.Handler:
    """The handler `configure_logging` installs, for a stream of the caller's choosing."""
    redact = Redactor(settings_secrets(settings))
    handler = logging.StreamHandler(stream)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(TemporalContextFilter())
    formatter: logging.Formatter = (JsonFormatter(redact) if wants_json(settings.log_format, stream)
                                    else PlainFormatter(redact))
    handler.setFormatter(formatter)
    return handler


def configure_logging(settings: Settings, stream: TextIO | None = None) -> bool:
    """Install our handler on the root logger; returns whether it did.

    An embedding process that configured logging itself (a test runner, uvicorn started with
    `--log-config`) keeps its setup: then this does nothing. Calling it again replaces our own
    handler, so the worker's entry point and the CLI may both call it.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
    if len(ours) != len(root.handlers):
        return False
    for handler in ours:
        root.removeHandler(handler)
    root.addHandler(build_handler(settings, stream if stream is not None else sys.stderr))
    root.setLevel(settings.log_level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # uvicorn sets its own levels (INFO for the access log): ours is the one that holds,
        # so `LIFECYCLE_LOG_LEVEL=WARNING` also silences each request's access line.
        logger.setLevel(logging.NOTSET)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # The context travels as fields now; Temporal's adapters would repeat it in the message.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    return True
