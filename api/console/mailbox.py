"""The dev Mailbox page: the mails `lifecycle dev`'s embedded sink received, newest first.

Mounted only when `LIFECYCLE_DEV_MAILBOX_DIR` is set, which only `lifecycle dev` does, so a
newcomer can sign in with no mail server while a deployed console has no such page. It needs
no session: it is how one gets a session on a dev machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import MaybeUserDep
from api.console.render import page
from api.problems import NotFound

LATEST = 50
URL = re.compile(r"https?://[^\s<>\"']+")
NAME = re.compile(r"^[0-9A-Za-z_.-]+\.eml$")


@dataclass(frozen=True)
class Mail:
    name: str
    to: str
    subject: str
    date: str
    parts: list[tuple[str, bool]]  # (text, is_link): links are shown as links


def _read(path: Path) -> Mail:
    msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    text = part.get_content() if part is not None else ""
    parts: list[tuple[str, bool]] = []
    last = 0
    for match in URL.finditer(text):
        parts += [(text[last:match.start()], False), (match.group(), True)]
        last = match.end()
    parts.append((text[last:], False))
    return Mail(name=path.name, to=str(msg.get("To", "")), subject=str(msg.get("Subject", "")),
                date=str(msg.get("Date", "")), parts=parts)


def router(directory: Path) -> APIRouter:
    routes = APIRouter()

    @routes.get("/dev/mailbox", response_class=HTMLResponse)
    def mailbox(request: Request, user: MaybeUserDep) -> Response:
        files = sorted(directory.glob("*.eml"), reverse=True)[:LATEST] \
            if directory.is_dir() else []
        return page(request, "mailbox.html", user, mails=[_read(f) for f in files],
                    directory=str(directory))

    @routes.get("/dev/mailbox/{name}", response_class=HTMLResponse)
    def one_mail(request: Request, name: str, user: MaybeUserDep) -> Response:
        path = directory / name
        if not NAME.fullmatch(name) or not path.is_file():
            raise NotFound("no such mail in the dev mailbox")
        return page(request, "mailbox.html", user, mails=[_read(path)],
                    directory=str(directory), single=True)

    return routes
