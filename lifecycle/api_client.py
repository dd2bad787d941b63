"""The CLI's side of the HTTP API: one request, one answer, and every failure one line.

Why the CLI goes through the API rather than to the database or Temporal: the API is where keys
are checked, confirmations and blockers enforced and the audit trail written; a CLI that skipped
it would skip all three. Every command group that talks to it (teardown, keys, workflows) needs
the same pieces, so they live here once:

* `Api`: requests with a bearer token; a non-2xx answer becomes a `CliError` carrying the
  problem's `title: detail` on one line, an unreachable API a `CliError` saying so;
* `collect`: a listing, one page or every page followed through its token, in the API's shape;
* `report`: runs a command, turns a `CliError` into one line on stderr and its exit code, and
  masks the credentials it was given, so the CLI never prints them even inside an error.

Exit codes scripts can branch on: 0 done, 1 the API refused, failed or could not be reached,
2 usage (no credential, bad arguments; argparse itself also exits 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, BinaryIO

import httpx

from core.settings import OPERATOR_TOKEN_FILE, Settings
from core.text import text_problem

# The header the API sets on responses to a key that expires within seven days (api/auth.py).
EXPIRES_HEADER = "X-Key-Expires-At"

API_KEY_ENV = "LIFECYCLE_API_KEY"
OPERATOR_TOKEN_ENV = "LIFECYCLE_OPERATOR_TOKEN"
REQUEST_TIMEOUT_S = 30.0
Params = Mapping[str, str | int]


class CliError(Exception):
    """One line for stderr, the exit code that goes with it, and the HTTP status if any."""

    def __init__(self, message: str, code: int = 1, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def default_api_url(settings: Settings) -> str:
    """The API the settings describe; a wildcard bind address is dialled on loopback."""
    host = settings.api_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}"


def _validation_errors(body: Mapping[str, Any]) -> str:
    """`field: message` for each field a 422 names (the API leaves the offending values out)."""
    errors = body.get("errors")
    if not isinstance(errors, list):
        return ""
    parts = []
    for err in errors:
        if isinstance(err, dict):
            loc = ".".join(str(p) for p in err.get("loc", []) if p not in ("body", "query"))
            parts.append(f"{loc}: {err.get('msg', '')}" if loc else str(err.get("msg", "")))
    return "; ".join(parts)


def problem_line(response: httpx.Response) -> str:
    """`title: detail` from an RFC 9457 body, or the status line when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("title") or body.get("detail")):
        title = str(body.get("title") or response.reason_phrase)
        detail = str(body.get("detail") or "")
        fields = _validation_errors(body)
        if fields:
            detail = f"{detail} ({fields})" if detail else fields
        text = f"{title}: {detail}" if detail else title
    else:
        text = f"HTTP {response.status_code} {response.reason_phrase}"
    return " ".join(text.split())  # one line, whatever the server put in it


def expiry_warning(expires_at: str, now: datetime) -> str | None:
    """The line a command prints when the API says its key expires soon (`X-Key-Expires-At`)."""
    try:
        at = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    left = at - now
    days = left.days + (1 if left.seconds or left.microseconds else 0)
    soon = "today" if left.total_seconds() < 86400 else f"in {days} day{'s' * (days != 1)}"
    return (f"warning: this key expires {soon}: {at.strftime('%Y-%m-%d %H:%M UTC')}; "
            "extend it (lifecycle keys extend) or roll it (lifecycle keys roll)")


class Api:
    """A bearer-token HTTP client of the API; use it as a context manager.

    When a response says the key in use expires soon, the command prints one line about it on
    stderr (once per command), so scripts and people notice before it stops working.
    """

    def __init__(self, base_url: str, token: str) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S)
        self._token = token
        self._warned = False

    def __enter__(self) -> Api:
        return self

    def _warn_expiry(self, response: httpx.Response) -> None:
        stamp = response.headers.get(EXPIRES_HEADER)
        if stamp and not self._warned:
            line = expiry_warning(stamp, datetime.now(UTC))
            if line:
                print(line, file=sys.stderr)
                self._warned = True

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._http.close()

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
             params: Params | None = None, token: str | None = None, *,
             content: bytes | None = None, content_type: str = "",
             headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON body of a 2xx answer; anything else raises `CliError`.

        `body` goes as JSON; `content` (with `content_type`) as raw bytes, for uploads.
        """
        sent = {"Authorization": f"Bearer {token or self._token}", **(headers or {})}
        if content is not None:
            sent["Content-Type"] = content_type
        try:
            response = self._http.request(method, path, json=body, params=params,
                                          content=content, headers=sent)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the API at {self._http.base_url}: "
                           f"{type(exc).__name__}: {exc}") from None
        self._warn_expiry(response)
        if response.status_code >= 400:
            raise CliError(problem_line(response), status=response.status_code)
        data: dict[str, Any] = response.json()
        return data


    def stream(self, path: str, params: Params, sink: BinaryIO) -> int:
        """Copy a streamed 2xx answer to `sink` as it arrives; the bytes written. An error
        answer raises `CliError` before anything is written."""
        sent = {"Authorization": f"Bearer {self._token}"}
        try:
            with self._http.stream("GET", path, params=params, headers=sent) as response:
                if response.status_code >= 400:
                    response.read()
                    raise CliError(problem_line(response), status=response.status_code)
                written = 0
                for chunk in response.iter_bytes():
                    sink.write(chunk)
                    written += len(chunk)
                return written
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the API at {self._http.base_url}: "
                           f"{type(exc).__name__}: {exc}") from None


def collect(api: Api, path: str, params: Params, *, items: str, token_param: str,
            token_field: str, start: str = "", follow: bool = False) -> dict[str, Any]:
    """One page from `start`, or with `follow` every page after it merged into one.

    Either way the result has the API's shape (`items` list, `token_field` for what is left),
    so `--json` output is the same document whether it took one request or fifty.
    """
    query = dict(params)
    if start:
        query[token_param] = start
    page = api.call("GET", path, params=query)
    merged = dict(page)
    seen = {start}
    while follow and page.get(token_field):
        token = str(page[token_field])
        if token in seen:  # a server bug must not turn into an endless loop
            raise CliError(f"the API repeated the page token of {path}")
        seen.add(token)
        page = api.call("GET", path, params={**query, token_param: token})
        merged[items] = [*merged[items], *page[items]]
    merged[token_field] = page.get(token_field)
    return merged


def add_connection_arguments(parser: argparse.ArgumentParser, *, api_key: bool) -> None:
    """`--api-url`, `--json` and, for key-authenticated commands, `--api-key`."""
    parser.add_argument("--api-url", help="the API's base URL (default: "
                        "http://LIFECYCLE_API_HOST:LIFECYCLE_API_PORT)")
    if api_key:
        parser.add_argument("--api-key", help=f"the org admin's team key; default: ${API_KEY_ENV}")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def one_line(text: str) -> str:
    """argparse type for names, addresses and confirmations: the API's rule for typed text
    (`core.text`), applied before any request is made, so a card number or a key secret typed
    by mistake never leaves this machine (the value is not echoed)."""
    problem = text_problem(text, one_line=True)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def free_text(text: str) -> str:
    """argparse type for reasons and descriptions: as `one_line`, line breaks allowed."""
    problem = text_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def positive_int(text: str) -> int:
    """argparse type for counts and days: a usage error (exit 2) before any request is made."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def api_key(args: argparse.Namespace) -> str:
    """The key from `--api-key` or the environment; empty when neither gives one."""
    return str(getattr(args, "api_key", None) or os.environ.get(API_KEY_ENV, ""))


def operator_token(settings: Settings) -> str:
    """The operator token from the settings, else the one a running `lifecycle dev` made."""
    configured = settings.operator_token.get_secret_value()
    if configured:
        return configured
    generated = settings.data_dir / OPERATOR_TOKEN_FILE
    return generated.read_text().strip() if generated.is_file() else ""


def connect(args: argparse.Namespace, settings: Settings, token: str, missing: str) -> Api:
    """An `Api` on `--api-url` (or the settings' address); usage error `missing` without token."""
    if not token:
        raise CliError(missing, 2)
    return Api(args.api_url or default_api_url(settings), token)


def report(prefix: str, secrets: Iterable[str], work: Callable[[], int]) -> int:
    """Run `work`; a `CliError` becomes `prefix: message` on stderr with secrets masked."""
    try:
        return work()
    except CliError as exc:
        message = str(exc)
        for secret in secrets:
            if secret:
                message = message.replace(secret, "***")
        print(f"{prefix}: {message}", file=sys.stderr)
        return exc.code
