"""Connecting to Temporal, and telling "not up yet" apart from "broken".

The worker, the API's readiness probe and `lifecycle dev` all need the same two things: one
connection attempt bounded by a timeout (a blackholed address must not hang a probe), and a
wait-until-serving loop with a deadline (a dev server or a compose service takes a moment to
register its namespace, and a worker started a little early should wait, not crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType, TaskQueueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import KeepAliveConfig, RetryConfig, RPCError, RPCStatusCode, TLSConfig

from core.settings import Settings, SettingsError
from core.tracing import temporal_interceptors

POLL_INTERVAL_S = 0.2


@dataclass(frozen=True)
class TemporalSecurity:
    """How a client proves itself to the Temporal frontend: TLS (mTLS with a client
    certificate) and an API key (Temporal Cloud). The default is plain gRPC, for a frontend
    reachable only from inside (the compose network, a dev server on loopback)."""

    tls: TLSConfig | bool = False
    api_key: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TemporalSecurity:
        """The settings' TLS and API key; the PEM files are read now, so a missing file stops
        the process at start with its name."""
        def pem(path: str, setting: str) -> bytes | None:
            if not path:
                return None
            try:
                return Path(path).read_bytes()
            except OSError as exc:
                raise SettingsError(f"bad setting: {setting}: cannot read {path}: "
                                    f"{exc.strerror}") from None

        api_key = settings.temporal_api_key.get_secret_value() or None
        files = (settings.temporal_tls_ca_file, settings.temporal_tls_cert_file,
                 settings.temporal_tls_server_name)
        if not (settings.temporal_tls or any(files) or api_key):
            return cls()
        if not any(files):
            return cls(tls=True, api_key=api_key)  # the system's roots, no client certificate
        return cls(tls=TLSConfig(
            server_root_ca_cert=pem(settings.temporal_tls_ca_file,
                                    "LIFECYCLE_TEMPORAL_TLS_CA_FILE"),
            client_cert=pem(settings.temporal_tls_cert_file, "LIFECYCLE_TEMPORAL_TLS_CERT_FILE"),
            client_private_key=pem(settings.temporal_tls_key_file,
                                   "LIFECYCLE_TEMPORAL_TLS_KEY_FILE"),
            domain=settings.temporal_tls_server_name or None), api_key=api_key)


# What a failed attempt raises: the bridge reports connect failures as RuntimeError, calls fail
# with RPCError, and our own bound with TimeoutError.
CONNECT_ERRORS = (RPCError, RuntimeError, OSError, TimeoutError)


# Statuses that say Temporal is away or busy, whatever the call: the caller should try again
# later (an API answers 503), not report a bug.
TRANSIENT_STATUSES = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                                RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.CANCELLED})


def is_transient(exc: RPCError) -> bool:
    """True when `exc` means "Temporal is unreachable or overloaded right now"."""
    return exc.status in TRANSIENT_STATUSES


class TemporalUnavailableError(RuntimeError):
    """Temporal did not answer in time; the message says where we looked and the last error."""


# The Rust bridge nests the operating system's reason deep inside a debug dump.
_OS_REASON = re.compile(r'message: "([^"]+)"')


def short_error(exc: BaseException, limit: int = 160) -> str:
    """One line for a log or a health body; bridge errors otherwise run to 300+ characters."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    reason = _OS_REASON.search(text)
    if reason and text.startswith("Failed client connect"):
        text = f"cannot connect: {reason.group(1)}"
    text = text.splitlines()[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def connect_once(address: str, namespace: str, *, timeout_s: float,
                       runtime: Runtime | None = None,
                       retry_config: RetryConfig | None = None,
                       keep_alive: KeepAliveConfig | None = None,
                       security: TemporalSecurity | None = None) -> Client:
    """Connect and prove the namespace exists, all within `timeout_s`.

    `Client.connect` alone only reaches the frontend; describing the namespace is what tells us
    the server can take work for it (a dev server opens its port before the namespace exists).
    `runtime` carries telemetry (the worker's metrics); None is the SDK's default runtime.
    `retry_config` and `keep_alive` bound how long every later call retries an unreachable
    frontend and how soon a silent one is noticed; None keeps the SDK's defaults.
    """

    secure = security or TemporalSecurity()

    async def attempt() -> Client:
        client = await Client.connect(address, namespace=namespace, runtime=runtime,
                                      interceptors=temporal_interceptors(),
                                      retry_config=retry_config,
                                      keep_alive_config=keep_alive or KeepAliveConfig.default,
                                      tls=secure.tls, api_key=secure.api_key)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=timeout_s))
        return client

    return await asyncio.wait_for(attempt(), timeout_s)


async def wait_until_serving(address: str, namespace: str, *, deadline_s: float,
                             attempt_timeout_s: float = 2.0,
                             still_worth_waiting: Callable[[], str | None] | None = None,
                             runtime: Runtime | None = None,
                             security: TemporalSecurity | None = None) -> Client:
    """Retry `connect_once` until it succeeds or `deadline_s` passes.

    `still_worth_waiting` lets a caller that owns the server stop early: it returns a reason
    (e.g. "the dev server exited with status 1") when waiting longer is pointless.
    """
    give_up_at = time.monotonic() + deadline_s
    last_error = "no attempt made"
    while True:
        try:
            return await connect_once(address, namespace, timeout_s=attempt_timeout_s,
                                      runtime=runtime, security=security)
        except CONNECT_ERRORS as exc:
            last_error = short_error(exc)
        if still_worth_waiting is not None:
            reason = still_worth_waiting()
            if reason is not None:
                raise TemporalUnavailableError(f"Temporal at {address}: {reason}")
        if time.monotonic() >= give_up_at:
            raise TemporalUnavailableError(
                f"Temporal at {address} (namespace {namespace!r}) not serving after "
                f"{deadline_s:.0f}s: {last_error}")
        await asyncio.sleep(POLL_INTERVAL_S)


async def wait_for_poller(client: Client, task_queue: str, *, deadline_s: float,
                          still_worth_waiting: Callable[[], str | None] | None = None) -> None:
    """Wait until some worker polls `task_queue` for workflow tasks.

    A worker process that has started is not yet a worker that takes work: it still connects,
    registers and opens its pollers. Asking the server who polls is what says "ready".
    """
    give_up_at = time.monotonic() + deadline_s
    request = DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
    while True:
        with contextlib.suppress(RPCError):
            described = await client.workflow_service.describe_task_queue(
                request, timeout=timedelta(seconds=2))
            if described.pollers:
                return
        if still_worth_waiting is not None:
            reason = still_worth_waiting()
            if reason is not None:
                raise TemporalUnavailableError(f"task queue {task_queue}: {reason}")
        if time.monotonic() >= give_up_at:
            raise TemporalUnavailableError(
                f"no worker polled task queue {task_queue!r} within {deadline_s:.0f}s")
        await asyncio.sleep(POLL_INTERVAL_S)


async def ensure_search_attributes(client: Client, names: list[str]) -> list[str]:
    """Register the keyword search attributes in `names` that the namespace lacks; the ones
    added. A workflow that sets an unregistered attribute fails its task, so every process
    that runs workflows calls this before it polls."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace))
        missing = [name for name in names if name not in listed.custom_attributes]
    except RPCError as exc:  # the time-skipping test server can add but not list them
        if exc.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        missing = list(names)
    if missing:
        try:
            await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                                   for name in missing}))
        except RPCError as exc:  # another process registered them first
            if exc.status is not RPCStatusCode.ALREADY_EXISTS:
                raise
            return []
    return missing
