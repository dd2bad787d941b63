"""Look for secrets where they must never be: a database dump, log files, mail, histories.

Why a helper: the scan is only worth something if it can fail, so every scanned source is also
checked for a value planted in it on purpose (`assert_finds`), and every secret is searched in
its whole form and in the part that is never shown again after creation.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from core.keyformat import PREFIX_LEN

# the test's own HTTP client logs requests it sends; the product's logs are what is scanned
CLIENT_LOGGERS = ("httpx", "httpcore")
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def key_needles(secrets: Iterable[str]) -> set[str]:
    """Each API key secret, and its private part (everything after the public prefix)."""
    return {part for secret in secrets for part in (secret, secret[PREFIX_LEN:])}


def card_needles(numbers: Iterable[str]) -> set[str]:
    """Each card number as sent and as bare digits."""
    return {form for number in numbers for form in (number, re.sub(r"\D", "", number))}


def leaks(text: str, needles: Iterable[str]) -> list[str]:
    return sorted(needle for needle in needles if needle in text)


def assert_finds(text: str, planted: str, source: str) -> None:
    """The scan of `source` would have seen a leak: the planted value is there."""
    assert planted in text, f"the scan of {source} cannot fail: planted value not found"


def pg_dump(database_url: str) -> str:
    """A plain-text dump of the whole database (schema and every row), by the real pg_dump."""
    url = make_url(database_url)
    result = subprocess.run(
        ["pg_dump", "--no-owner", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
         "-U", url.username or "postgres", url.database or ""],
        capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


class _NotTheClient(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(CLIENT_LOGGERS)


@contextmanager
def captured_logs(path: Path) -> Iterator[Path]:
    """Every log record of this process at DEBUG and above, written to `path` while inside.

    uvicorn's loggers do not propagate to the root, so the handler is put on them too.
    """
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.addFilter(_NotTheClient())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in SERVER_LOGGERS)]
    root_level = loggers[0].level
    loggers[0].setLevel(logging.DEBUG)
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield path
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        loggers[0].setLevel(root_level)
        handler.close()
