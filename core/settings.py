"""One place for every setting, read from `LIFECYCLE_*` environment variables.

Why one class: the API, the worker, the CLI and Alembic must agree on the database, the Temporal
address and the key pepper; reading them in several places is how a worker ends up hashing keys
with a different pepper than the API.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from core.grace import GRACE_CEILING
from core.secret_scanning import load_public_key
from core.signing import PublicKey, Signer, SigningKeyError, key_set

# Where `lifecycle dev` keeps the operator token it generates, inside the data directory.
OPERATOR_TOKEN_FILE = "operator-token"
# Where `lifecycle dev` keeps the certificate signing key it generates when none is set.
DEV_SIGNING_KEY_FILE = "certificate-signing-key"
DEV_PEPPER = "dev-only-pepper-change-me-in-production-0000"
# An operator token shorter than this is refused: the token opens every org's finished
# teardown and the cross-org views, and failed tries are only throttled, not impossible.
MIN_OPERATOR_TOKEN = 32
DEV_WEBHOOK_SECRET_KEY = "dev-only-webhook-secret-key-change-me-000"
# Waits between webhook attempts: about three days in all, as receivers expect of a sender.
WEBHOOK_RETRY_SCHEDULE_S = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000]


def default_data_dir() -> Path:
    """Where the embedded databases live when `LIFECYCLE_DATA_DIR` is not set.

    Never relative to the working directory: a `lifecycle seed` run from another folder would
    otherwise write a second, empty database that the running API never reads. A source
    checkout keeps its data in `.lifecycle/` at the project root; an installed copy in the
    user's data directory.
    """
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file():
        return root / ".lifecycle"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lifecycle"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""


class Settings(BaseSettings):
    """Runtime configuration; every field maps to `LIFECYCLE_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="LIFECYCLE_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    # A database that hangs must not hang a request: connecting (and waiting for a pooled
    # connection) gives up after the first, one statement (lock waits included; SQLite's busy
    # wait) after the second, and the API answers 503.
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    database_statement_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)

    temporal_address: str = ""
    temporal_namespace: str = "default"
    task_queue: str = "org-lifecycle"
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    # The Temporal UI as a browser reaches it (links in the API and the CLI); empty: the local
    # dev server's UI on `temporal_ui_port`.
    temporal_ui_url: str = ""
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    # TLS to the Temporal frontend (mTLS with a client certificate and key), and an API key
    # (Temporal Cloud). Files are PEM; TLS is on when any of them, `temporal_tls` or an API
    # key is set. Empty: plain gRPC, fit only for a frontend no one else can reach.
    temporal_tls: bool = False
    temporal_tls_ca_file: str = ""
    temporal_tls_cert_file: str = ""
    temporal_tls_key_file: str = ""
    temporal_tls_server_name: str = ""
    temporal_api_key: SecretStr = SecretStr("")
    # host:port where the worker serves the Temporal SDK's Prometheus metrics; empty: off.
    worker_metrics_address: str = ""
    # How long running activities may finish after SIGTERM before they are cancelled (and retried
    # elsewhere). In production, above the longest heartbeat timeout, so a page mid-way finishes
    # instead of waiting that timeout out on another worker; the orchestrator's kill grace
    # (terminationGracePeriodSeconds, stop_grace_period) must be longer still.
    worker_shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=3600)

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # How long a request waits for a short durable workflow before answering 202 (pending);
    # below a typical client read timeout.
    api_workflow_wait_seconds: float = Field(default=5.0, gt=0, le=60)

    key_pepper: SecretStr = SecretStr(DEV_PEPPER)
    operator_token: SecretStr = SecretStr("")
    # Failed authentications (per client address and per key prefix, all replicas together)
    # within the window before further attempts get a 429.
    auth_failure_limit: int = Field(default=20, ge=1, le=10_000)
    auth_failure_window_seconds: int = Field(default=300, ge=1, le=24 * 3600)
    # Set by `lifecycle dev` alone: the public development pepper is accepted and the minimum
    # grace may be 0. The API and the worker refuse the development pepper without it.
    development: bool = False

    teardown_grace_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    # Deletion certificates are signed with this Ed25519 private key (base64 of its 32-byte
    # seed; `lifecycle dev` generates one); empty: certificates are issued unsigned. The
    # public keys of earlier signing keys stay trusted for verification after a rotation.
    certificate_signing_key: SecretStr = SecretStr("")
    certificate_public_keys: list[str] = Field(default_factory=list)
    # The erasure ledger: a directory, on storage the database backups do not restore, where
    # every org deletion certificate is also written; empty: none (`lifecycle dev` keeps one in
    # its data directory). `lifecycle erasures reapply` deletes again what a restore brought back.
    erasure_ledger_dir: str = ""
    # No teardown or project deletion window is shorter than this, whether asked for with
    # `grace_seconds` or cut short by `expedite`: one click never deletes at once.
    min_grace_seconds: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)
    # ... and none longer than this: a deletion asked for happens within the promised time.
    max_grace_seconds: int = Field(default=30 * 24 * 3600, ge=0, le=GRACE_CEILING)
    # Records per committed purge batch. Each batch pays a probe for its end, a ledger row, a
    # commit and a heartbeat: at 50,000 those are a small share of a large purge (a fifth less
    # time and two thirds less worker CPU than 10,000 at 10M records, docs/benchmarks.md),
    # and a batch still holds SQLite's write lock well under a tenth of a second.
    purge_batch_size: int = Field(default=50_000, ge=1, le=100_000)
    purge_concurrency: int = Field(default=4, ge=1, le=64)

    # Orgs and members. Who may create an org: the operator only, or anyone (open sign-up),
    # then at most `org_signup_per_hour` per client address, counted in the database so
    # every API replica counts the same. An invitation's link works once, within its TTL
    # (seconds, or an ISO 8601 duration such as P7D).
    org_signup: Literal["operator", "open"] = "operator"
    org_signup_per_hour: int = Field(default=5, ge=1, le=10_000)
    # A deleted org's name cannot be taken by a new org for this many days (0: at once); the
    # check compares name hashes, so the name itself is never kept.
    org_name_quarantine_days: int = Field(default=90, ge=0, le=3650)
    invitation_ttl: timedelta = Field(default=timedelta(days=7), ge=timedelta(minutes=1),
                                      le=timedelta(days=90))

    # Projects, datasets and records (the console's data side).
    project_deletion_grace_seconds: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)
    records_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    records_max_per_request: int = Field(default=10_000, ge=1, le=1_000_000)
    record_max_bytes: int = Field(default=64 * 1024, ge=64, le=16 * 1024 * 1024)
    dataset_delete_max_records: int = Field(default=1_000_000, ge=0)
    # Dataset files, in an S3-compatible bucket (store/objects.py). No endpoint: files are off
    # (their routes answer 503) and teardowns purge the database alone. `lifecycle dev` and the
    # tests run SeaweedFS's S3 gateway and set it.
    object_store_endpoint: str = ""
    object_store_bucket: str = "lifecycle-files"
    object_store_region: str = "us-east-1"
    object_store_access_key_id: str = ""
    object_store_secret_access_key: SecretStr = SecretStr("")
    dataset_file_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1, le=5 * 1024 ** 3)
    # An external control plane (a cluster service) whose resources of an org a teardown
    # deletes through its HTTP API (store/control_plane.py). No URL: none.
    control_plane_url: str = ""
    control_plane_token: SecretStr = SecretStr("")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    mail_sender: str = "lifecycle@localhost"

    # The web console (/console): the address its mailed sign-in links point at (empty: the
    # API's own host and port), and how long a signed-in browser stays signed in.
    console_url: str = ""
    console_session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    console_session_max_hours: int = Field(default=12, ge=1, le=24 * 30)
    # Where `lifecycle dev`'s embedded mail sink keeps what it receives; set only by
    # `lifecycle dev`, and the console's Mailbox page exists only while it is set.
    dev_mailbox_dir: str = ""

    # Webhook endpoints (Standard Webhooks v1, docs/sweep.md). Signing secrets are sealed at
    # rest under `webhook_secret_key`; targets must be public https (core/webhook_targets.py)
    # unless `webhook_allow_http` / `webhook_allowed_networks` say otherwise (development).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    webhook_retry_schedule_seconds: list[int] = Field(
        default_factory=lambda: list(WEBHOOK_RETRY_SCHEDULE_S), min_length=1)
    webhook_retry_jitter: float = Field(default=0.2, ge=0, le=0.5)
    webhook_disable_after_failures: int = Field(default=15, ge=1, le=1000)
    webhook_secret_key: SecretStr = SecretStr(DEV_WEBHOOK_SECRET_KEY)
    webhook_allow_http: bool = False
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    mail_max_attempts: int = Field(default=10, ge=1, le=100)

    # Secret scanning (docs/security.md): the scanners' ECDSA P-256 public keys, PEM by key
    # id, that sign their reports of leaked keys; empty: every report is refused (401).
    secret_scanning_public_keys: dict[str, str] = Field(default_factory=dict)

    # Key-expiry sweep: a Temporal Schedule starts `KeyExpirySweepWorkflow`.
    sweep_schedule_enabled: bool = True
    sweep_interval_seconds: int = Field(default=3600, ge=60)
    sweep_catchup_window_seconds: int = Field(default=24 * 3600, ge=60)
    reminder_windows_days: list[int] = Field(default_factory=lambda: [30, 7, 1], min_length=1)
    sweep_page_size: int = Field(default=10_000, ge=1, le=50_000)
    sweep_pages_per_run: int = Field(default=50, ge=1, le=1000)

    # Logs and traces: see core/logs.py and core/tracing.py.
    log_format: Literal["auto", "json", "plain"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    otlp_endpoint: str = ""

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @field_validator("invitation_ttl", mode="before")
    @classmethod
    def _seconds_or_duration(cls, value: object) -> object:
        """Whole seconds as digits (`604800`), or an ISO 8601 duration (`P7D`)."""
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value

    @field_validator("worker_metrics_address")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if value and not (host and port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError("must be host:port, e.g. 0.0.0.0:9464")
        return value

    @field_validator("temporal_ui_url", "console_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_endpoint(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (OTLP over HTTP)")
        return value

    @field_validator("reminder_windows_days")
    @classmethod
    def _positive_distinct_windows(cls, value: list[int]) -> list[int]:
        if any(days < 1 for days in value) or len(set(value)) != len(value):
            raise ValueError("must be distinct whole days of at least 1")
        return sorted(value, reverse=True)

    @field_validator("webhook_retry_schedule_seconds")
    @classmethod
    def _positive_waits(cls, value: list[int]) -> list[int]:
        if any(seconds < 1 for seconds in value):
            raise ValueError("must be whole seconds of at least 1")
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network (e.g. 10.0.0.0/8)") from None
        return value

    @field_validator("secret_scanning_public_keys")
    @classmethod
    def _scanner_keys_load(cls, value: dict[str, str]) -> dict[str, str]:
        for key_id, pem in value.items():
            try:
                load_public_key(pem)
            except ValueError as exc:
                raise ValueError(f"key {key_id!r}: {exc}") from None
        return value

    @field_validator("key_pepper", "webhook_secret_key")
    @classmethod
    def _pepper_long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("certificate_signing_key")
    @classmethod
    def _signing_key(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value():
            try:
                Signer.parse(value.get_secret_value())
            except SigningKeyError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("certificate_public_keys")
    @classmethod
    def _public_keys(cls, value: list[str]) -> list[str]:
        try:
            for key in value:
                PublicKey.parse(key)
        except SigningKeyError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _grace_bounds(self) -> Settings:
        if self.max_grace_seconds < self.min_grace_seconds:
            raise ValueError("LIFECYCLE_MAX_GRACE_SECONDS must not be below "
                             "LIFECYCLE_MIN_GRACE_SECONDS")
        return self

    @model_validator(mode="after")
    def _cert_with_key(self) -> Settings:
        if bool(self.temporal_tls_cert_file) != bool(self.temporal_tls_key_file):
            raise ValueError("LIFECYCLE_TEMPORAL_TLS_CERT_FILE and LIFECYCLE_TEMPORAL_TLS_KEY_FILE "
                             "go together (mTLS needs both)")
        return self

    @field_validator("operator_token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < MIN_OPERATOR_TOKEN:
            raise ValueError(f"must be empty or at least {MIN_OPERATOR_TOKEN} characters")
        return value

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lifecycle.db').resolve()}"

    @property
    def shown_database_url(self) -> str:
        """The database URL with any password masked, for terminals and logs."""
        return make_url(self.effective_database_url).render_as_string(hide_password=True)

    @property
    def effective_temporal_ui_url(self) -> str:
        """Base URL of the Temporal UI for links: the configured one or the dev server's."""
        return self.temporal_ui_url or f"http://127.0.0.1:{self.temporal_ui_port}"

    @property
    def effective_temporal_address(self) -> str:
        """The configured Temporal frontend, or the local dev server `lifecycle dev` starts."""
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def effective_console_url(self) -> str:
        """Where mailed sign-in links point: the configured URL, else the API's own address."""
        if self.console_url:
            return self.console_url
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def erasure_ledger_path(self) -> Path | None:
        return Path(self.erasure_ledger_dir) if self.erasure_ledger_dir else None

    @property
    def certificate_signer(self) -> Signer | None:
        key = self.certificate_signing_key.get_secret_value()
        return Signer.parse(key) if key else None

    @property
    def certificate_keys(self) -> dict[str, PublicKey]:
        """Every public key a certificate may be signed with: the signing key's and the
        earlier ones, by key id."""
        signer = self.certificate_signer
        return key_set([*([signer.public] if signer else []),
                        *(PublicKey.parse(k) for k in self.certificate_public_keys)])

    @property
    def pepper_bytes(self) -> bytes:
        return self.key_pepper.get_secret_value().encode()


def load_settings() -> Settings:
    """Read settings, turning pydantic's multi-line report into one operator-facing line."""
    try:
        return Settings()
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            parts.append(f"LIFECYCLE_{field.upper()}: {err['msg']}")
        raise SettingsError("bad setting: " + "; ".join(parts)) from None


def refuse_unsafe(settings: Settings) -> None:
    """Stop a server process whose settings are only fit for development.

    The development pepper is public (it is in this file), so key hashes made with it can be
    recomputed by anyone; the development webhook key likewise, so every endpoint's signing
    secret sealed with it opens for anyone holding a database dump. Outside `lifecycle dev` the
    API and the worker refuse to start with either.
    """
    if settings.development:
        return
    if settings.key_pepper.get_secret_value() == DEV_PEPPER:
        raise SettingsError("bad setting: LIFECYCLE_KEY_PEPPER: the public development pepper "
                            "is refused outside `lifecycle dev`; set a secret of 32+ characters "
                            "(e.g. openssl rand -hex 32)")
    if settings.webhook_secret_key.get_secret_value() == DEV_WEBHOOK_SECRET_KEY:
        raise SettingsError("bad setting: LIFECYCLE_WEBHOOK_SECRET_KEY: the public development "
                            "key that seals webhook signing secrets is refused outside "
                            "`lifecycle dev`; set a secret of 32+ characters (e.g. openssl rand "
                            "-hex 32) and keep it: changing it later makes every endpoint's "
                            "secret unreadable")
