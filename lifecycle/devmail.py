"""`lifecycle dev`'s embedded mail sink: an SMTP server that keeps every mail as a file.

Why: a newcomer has no mail server, and without one sign-in links, invitations and reminders
stay pending while delivery retries fill the terminal. The sink accepts everything on a local
port and writes each message to `<data dir>/mailbox/` as an `.eml` file, which the console's
dev-only Mailbox page shows. It runs only when no SMTP setting was given: with
`LIFECYCLE_SMTP_HOST` or `LIFECYCLE_SMTP_PORT` set, mail goes where they point.
"""

from __future__ import annotations

import itertools
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from core.settings import Settings

HOST = "127.0.0.1"


def wanted(settings: Settings) -> bool:
    """True unless the SMTP settings point somewhere."""
    return not ({"smtp_host", "smtp_port"} & settings.model_fields_set)


class _Keeper:
    """aiosmtpd handler: each accepted message becomes one file, named so they sort by time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.counter = itertools.count()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.time_ns()}-{next(self.counter):04d}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.directory / name)  # the page never sees half a file
        return "250 Message accepted for delivery"


@dataclass
class MailSink:
    directory: Path
    port: int
    controller: Controller

    def env(self) -> dict[str, str]:
        """What the worker and the API need to send here and to show the Mailbox page."""
        return {"LIFECYCLE_SMTP_HOST": HOST, "LIFECYCLE_SMTP_PORT": str(self.port),
                "LIFECYCLE_SMTP_STARTTLS": "false",
                "LIFECYCLE_DEV_MAILBOX_DIR": str(self.directory)}

    def stop(self) -> None:
        self.controller.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start(data_dir: Path) -> MailSink:
    # aiosmtpd logs every SMTP command at INFO: a line per mail for nobody to read
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    directory = data_dir / "mailbox"
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    controller = Controller(_Keeper(directory), hostname=HOST, port=port)
    controller.start()
    return MailSink(directory=directory, port=port, controller=controller)
