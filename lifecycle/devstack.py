"""`lifecycle dev`: the whole product on one machine with one command.

Migrates the database, then starts three children: the Temporal dev server (SQLite file under
the data directory, UI on, its own lines in a log file there), the worker and the API. Order
matters: the worker starts only once Temporal serves the namespace, and the banner prints only
once the worker polls its task queue and the API answers, so "ready" on the screen means
ready. Ctrl-C, SIGTERM or SIGHUP stops them API first, so no new work arrives, and Temporal
last, so the worker can finish its activities; if any child dies on its own, the others are
stopped and the command exits non-zero naming it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy.exc import OperationalError

from core import processes, seaweed
from core.binaries import MissingBinaryError, seaweedfs, temporal_cli
from core.logs import configure_logging
from core.settings import DEV_PEPPER, DEV_WEBHOOK_SECRET_KEY, OPERATOR_TOKEN_FILE, Settings
from core.temporal import TemporalUnavailableError, wait_for_poller, wait_until_serving
from lifecycle import devmail
from store.migrate import upgrade

READY_DEADLINE_S = 60.0
STOP_TIMEOUT_S = 15.0  # above the worker's graceful shutdown window
POLL_INTERVAL_S = 0.1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

TEMPORAL, WORKER, API, OBJECTS = "Temporal dev server", "worker", "API", "object store"
# The API first, so no new work arrives; Temporal and the object store last, so the worker can
# finish its activities.
STOP_ORDER = (API, WORKER, TEMPORAL, OBJECTS)

T = TypeVar("T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `lifecycle dev`; each defaults to its `LIFECYCLE_*` setting."""
    parser.add_argument("--api-host", help="API bind address (default: LIFECYCLE_API_HOST)")
    parser.add_argument("--api-port", type=int, help="API port (default: LIFECYCLE_API_PORT)")
    parser.add_argument("--temporal-port", type=int,
                        help="dev server gRPC port (default: LIFECYCLE_TEMPORAL_PORT)")
    parser.add_argument("--ui-port", type=int,
                        help="Temporal UI port (default: LIFECYCLE_TEMPORAL_UI_PORT)")
    parser.add_argument("--s3-port", type=int, default=seaweed.DEFAULT_S3_PORT,
                        help="S3 port of the embedded object store (SeaweedFS; default "
                             f"{seaweed.DEFAULT_S3_PORT}; not started when "
                             "LIFECYCLE_OBJECT_STORE_ENDPOINT names one)")


@dataclass(frozen=True)
class DevPlan:
    """Everything `lifecycle dev` will start, resolved once from settings and flags."""

    settings: Settings
    data_dir: Path
    database_url: str
    api_host: str
    api_port: int
    temporal_address: str
    temporal_port: int
    ui_port: int
    start_dev_server: bool
    s3_port: int = seaweed.DEFAULT_S3_PORT
    start_object_store: bool = True

    @classmethod
    def resolve(cls, settings: Settings, args: argparse.Namespace) -> DevPlan:
        temporal_port = args.temporal_port or settings.temporal_port
        external = settings.temporal_address
        return cls(
            settings=settings,
            data_dir=settings.data_dir.resolve(),
            database_url=settings.effective_database_url,
            api_host=args.api_host or settings.api_host,
            api_port=args.api_port or settings.api_port,
            temporal_address=external or f"127.0.0.1:{temporal_port}",
            temporal_port=temporal_port,
            ui_port=args.ui_port or settings.temporal_ui_port,
            start_dev_server=not external,
            s3_port=getattr(args, "s3_port", None) or seaweed.DEFAULT_S3_PORT,
            start_object_store=not settings.object_store_endpoint,
        )

    @property
    def operator_token_file(self) -> Path:
        return self.data_dir / OPERATOR_TOKEN_FILE

    def signing_env(self) -> dict[str, str]:
        """The certificate signing key for the children: the configured one, or the one this
        data directory keeps (generated on first start)."""
        if self.settings.certificate_signing_key.get_secret_value():
            return {}
        from lifecycle.certificate_cli import dev_signing_key

        return {"LIFECYCLE_CERTIFICATE_SIGNING_KEY": dev_signing_key(self.data_dir,
                                                                      create=True)}

    def child_env(self, operator_token: str = "") -> dict[str, str]:
        """Our environment plus the resolved values, so every child agrees with this plan."""
        env = dict(os.environ)
        if operator_token:
            env["LIFECYCLE_OPERATOR_TOKEN"] = operator_token
        env.update({
            "LIFECYCLE_DATA_DIR": str(self.data_dir),
            "LIFECYCLE_DATABASE_URL": self.database_url,
            "LIFECYCLE_TEMPORAL_ADDRESS": self.temporal_address,
            "LIFECYCLE_API_HOST": self.api_host,
            "LIFECYCLE_API_PORT": str(self.api_port),
            "LIFECYCLE_TEMPORAL_UI_PORT": str(self.ui_port),
            "LIFECYCLE_TEMPORAL_UI_URL": self.ui_url,
            "PYTHONUNBUFFERED": "1",
            "LIFECYCLE_DEVELOPMENT": "true",
            "LIFECYCLE_MIN_GRACE_SECONDS": str(self.min_grace_seconds),
            "LIFECYCLE_ERASURE_LEDGER_DIR": (self.settings.erasure_ledger_dir
                                             or str(self.data_dir / "erasures")),
        })
        if self.start_object_store:
            env["LIFECYCLE_OBJECT_STORE_ENDPOINT"] = self.object_store_endpoint
        # Development reaches webhook receivers on this machine (plain http, loopback),
        # unless the user said otherwise; production refuses both.
        env.setdefault("LIFECYCLE_WEBHOOK_ALLOW_HTTP", "true")
        env.setdefault("LIFECYCLE_WEBHOOK_ALLOWED_NETWORKS", '["127.0.0.0/8", "::1/128"]')
        return env

    @property
    def min_grace_seconds(self) -> int:
        """A development stack has no minimum grace unless one is set explicitly."""
        return (self.settings.min_grace_seconds
                if "LIFECYCLE_MIN_GRACE_SECONDS" in os.environ else 0)

    @property
    def ui_url(self) -> str:
        """The UI the links point at: a configured one, else the dev server's on our port."""
        return self.settings.temporal_ui_url or f"http://127.0.0.1:{self.ui_port}"

    @property
    def dev_server_log(self) -> Path | None:
        """Where the dev server's own lines go: a file, unless the user asked for debug output.

        Its start-up and shutdown chatter (health probes failing until the frontend is up,
        dial errors while it stops) is expected and says nothing to a user of the product.
        """
        if self.settings.log_level == "DEBUG":
            return None
        return self.data_dir / "temporal-dev-server.log"

    def dev_server_argv(self) -> list[str]:
        argv = [temporal_cli(), "server", "start-dev",
                "--db-filename", str(self.data_dir / "temporal.db"),
                "--port", str(self.temporal_port), "--ui-port", str(self.ui_port),
                "--ip", "127.0.0.1", "--log-level", "warn"]
        if self.settings.temporal_namespace != "default":
            argv += ["--namespace", self.settings.temporal_namespace]
        return argv

    @property
    def object_store_endpoint(self) -> str:
        return self.settings.object_store_endpoint or f"http://127.0.0.1:{self.s3_port}"

    def object_store_plan(self) -> seaweed.WeedPlan:
        """SeaweedFS with its data under the data directory; its inner ports chosen free."""
        return seaweed.WeedPlan.fresh(self.data_dir / "objects", self.s3_port)

    def worker_argv(self) -> list[str]:
        return [sys.executable, "-m", "lifecycle.cli", "worker"]

    def api_argv(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                "--host", self.api_host, "--port", str(self.api_port)]

    def busy_ports(self) -> list[str]:
        """The `host:port`s we would listen on that something else holds already.

        Checked up front because a dev server left over from an earlier run would otherwise
        answer our readiness probe while our own dev server fails to bind.
        """
        wanted = [(self.api_host, self.api_port)]
        if self.start_dev_server:
            wanted += [("127.0.0.1", self.temporal_port), ("127.0.0.1", self.ui_port)]
        if self.start_object_store:
            wanted.append(("127.0.0.1", self.s3_port))
        return [f"{host}:{port}" for host, port in wanted if not _can_bind(host, port)]

    @property
    def api_url(self) -> str:
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"


class StopRequested(Exception):
    """A stop signal arrived."""


class ChildExited(Exception):
    """A child ended while it should be running."""

    def __init__(self, child: processes.Child) -> None:
        status = child.exited.result()
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        tail = "".join(f"\n  | {line}" for line in child.log_tail())
        where = f"; the end of its log ({child.log}):{tail}" if tail else ""
        super().__init__(f"the {child.name} (pid {child.pid}) {how} unexpectedly{where}")


def _can_bind(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the servers themselves do, so a port in TIME_WAIT does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _say(message: str, *, error: bool = False) -> None:
    print(f"lifecycle dev: {message}", file=sys.stderr if error else sys.stdout, flush=True)


def run_dev(settings: Settings, args: argparse.Namespace) -> int:
    """Entry point of `lifecycle dev`; returns the exit status."""
    # The children (worker, API) set up the same logging themselves and share our stderr, so
    # library lines of this supervisor come out in the format of theirs.
    configure_logging(settings)
    plan = DevPlan.resolve(settings, args)
    plan.data_dir.mkdir(parents=True, exist_ok=True)
    busy = plan.busy_ports()
    if busy:
        _say("already in use: " + ", ".join(busy) + " (another `lifecycle dev`? pick other "
             "ports with --api-port/--temporal-port/--ui-port/--s3-port)", error=True)
        return 1
    try:
        if plan.start_dev_server:
            temporal_cli()  # fail before migrating when the binary is missing
        if plan.start_object_store:
            seaweedfs()
        _say(f"migrating {plan.settings.shown_database_url}")
        upgrade(plan.database_url)
    except MissingBinaryError as exc:
        _say(str(exc), error=True)
        return 1
    except OperationalError as exc:
        _say(f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}", error=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return asyncio.run(_supervise(plan))


def dev_operator_token(plan: DevPlan) -> str:
    """The configured operator token, or a fresh one for this run (empty: one was configured).

    Without one nobody could read a finished teardown's certificate or the ops views on a
    development stack; it is written to the data directory (owner-only) for the CLI and
    removed when the stack stops.
    """
    if plan.settings.operator_token.get_secret_value():
        return ""
    token = secrets.token_urlsafe(32)
    path = plan.operator_token_file
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


async def _supervise(plan: DevPlan) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    children: list[processes.Child] = []
    operator = dev_operator_token(plan)
    sink = devmail.start(plan.data_dir) if devmail.wanted(plan.settings) else None
    try:
        await _start_all(plan, children, stop, operator, sink.env() if sink else {})
        _print_banner(plan, operator, sink)
        await _until(stop.wait(), children, stop)
    except StopRequested:
        pass
    except ChildExited as exc:
        _say(f"{exc}; stopping the others", error=True)
        return 1
    except (TemporalUnavailableError, TimeoutError) as exc:
        _say(f"start-up failed: {exc}", error=True)
        return 1
    finally:
        await _stop_all(children)
        if sink is not None:
            sink.stop()
        if operator:
            plan.operator_token_file.unlink(missing_ok=True)
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
    return 0


async def _start_all(plan: DevPlan, children: list[processes.Child],
                     stop: asyncio.Event, operator_token: str,
                     mail_env: dict[str, str]) -> None:
    """Start everything; the API starts alongside Temporal (it connects lazily), the worker
    only once Temporal serves the namespace."""
    env = {**plan.child_env(operator_token), **mail_env, **plan.signing_env()}
    started = time.monotonic()
    if plan.start_dev_server:
        _say(f"starting the Temporal dev server on {plan.temporal_address}")
        children.append(await processes.spawn(TEMPORAL, plan.dev_server_argv(), env,
                                              output=plan.dev_server_log))
    else:
        _say(f"using the Temporal service at {plan.temporal_address}")
    if plan.start_object_store:
        weed = plan.object_store_plan()
        weed.data_dir.mkdir(parents=True, exist_ok=True)
        _say(f"starting the object store (SeaweedFS S3) on {weed.endpoint}")
        children.append(await processes.spawn(OBJECTS, weed.argv(), env,
                                              output=plan.data_dir / "seaweedfs.log"))
        await _until(asyncio.to_thread(seaweed.wait_for_s3, weed.endpoint, READY_DEADLINE_S),
                     children, stop)
    children.append(await processes.spawn(API, plan.api_argv(), env))
    client = await _until(wait_until_serving(plan.temporal_address,
                                             plan.settings.temporal_namespace,
                                             deadline_s=READY_DEADLINE_S), children, stop)
    _say(f"Temporal ready after {time.monotonic() - started:.1f}s; starting the worker")
    children.append(await processes.spawn(WORKER, plan.worker_argv(), env))
    await _until(wait_for_poller(client, plan.settings.task_queue, deadline_s=READY_DEADLINE_S),
                 children, stop)
    await _until(_wait_http_ok(f"{plan.api_url}/healthz", READY_DEADLINE_S), children, stop)
    _say(f"ready after {time.monotonic() - started:.1f}s")


async def _until(work: Awaitable[T], children: list[processes.Child],
                 stop: asyncio.Event) -> T:
    """Await `work` unless a stop signal comes or a child dies first (then raise)."""
    work_task = asyncio.ensure_future(work)
    stop_task = asyncio.ensure_future(stop.wait())
    watched = {work_task, stop_task, *(child.exited for child in children)}
    try:
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_task.cancel()
    if stop.is_set() or not work_task.done():
        work_task.cancel()
        await asyncio.gather(work_task, return_exceptions=True)
        if stop.is_set():
            raise StopRequested
        raise ChildExited(next(child for child in children if child.exited.done()))
    return work_task.result()


async def _wait_http_ok(url: str, deadline_s: float) -> None:
    """Poll `url` until it answers 200, within `deadline_s`."""
    give_up_at = time.monotonic() + deadline_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() >= give_up_at:
                raise TimeoutError(f"{url} did not answer 200 within {deadline_s:.0f}s")
            await asyncio.sleep(POLL_INTERVAL_S)


async def _stop_all(children: list[processes.Child]) -> None:
    """Stop the children in `STOP_ORDER`; report any that had to be killed."""
    if not children:
        return
    ordered = sorted(children, key=lambda child: STOP_ORDER.index(child.name))
    _say("stopping " + ", ".join(child.name for child in ordered))
    for child in ordered:
        if not await processes.stop(child, STOP_TIMEOUT_S):
            _say(f"the {child.name} did not stop within {STOP_TIMEOUT_S:.0f}s and was killed",
                 error=True)
    children.clear()
    _say("stopped")


def _print_banner(plan: DevPlan, operator_token: str,
                  sink: devmail.MailSink | None = None) -> None:
    lines = [f"console      {plan.api_url}/console  (sign in with a member's email; "
             "`lifecycle seed` makes orgs and prints their admins)"]
    if sink is not None:
        lines.append(f"mailbox      {plan.api_url}/console/dev/mailbox  (every mail sent, "
                     f"through the SMTP sink on {devmail.HOST}:{sink.port})")
    lines += [f"API docs     {plan.api_url}/docs",
             f"API health   {plan.api_url}/readyz",
             f"Temporal     {plan.temporal_address} (namespace "
             f"{plan.settings.temporal_namespace}, task queue {plan.settings.task_queue})"]
    if plan.start_dev_server:
        lines.append(f"Temporal UI  {plan.ui_url}")
        if plan.dev_server_log is not None:
            lines.append(f"server log   {plan.dev_server_log}")
    lines.append(f"database     {plan.settings.shown_database_url}")
    lines.append(f"object store {plan.object_store_endpoint} (bucket "
                 f"{plan.settings.object_store_bucket}"
                 + (f", SeaweedFS data in {plan.data_dir / 'objects'})"
                    if plan.start_object_store else ")"))
    if operator_token:
        lines.append(f"operator     {operator_token}  (generated for this run: the ops views "
                     "and certificates; the CLI reads it from "
                     f"{plan.operator_token_file})")
    lines.append("press Ctrl-C to stop")
    print("\n".join("  " + line for line in lines), flush=True)
    for warning in dev_warnings(plan):
        _say(f"warning: {warning}")


def dev_warnings(plan: DevPlan) -> list[str]:
    """What this development stack allows that a production one refuses."""
    warnings = []
    if plan.min_grace_seconds < 24 * 3600:
        warnings.append(f"minimum grace {plan.min_grace_seconds}s: an org or project can be "
                        "deleted within seconds of the request (development only; "
                        "LIFECYCLE_MIN_GRACE_SECONDS sets it)")
    if plan.settings.key_pepper.get_secret_value() == DEV_PEPPER:
        warnings.append("the public development key pepper is in use: the API and worker "
                        "refuse it outside `lifecycle dev`")
    if plan.settings.webhook_secret_key.get_secret_value() == DEV_WEBHOOK_SECRET_KEY:
        warnings.append("the public development webhook secret key is in use: the API and "
                        "worker refuse it outside `lifecycle dev`")
    return warnings
