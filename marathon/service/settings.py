"""Deployment settings, read once from the environment (the demo knobs live in `knobs`).

`SETTINGS` declares every environment variable marathon reads, once, as `knobs` declares the
knobs: its default as a user sees it, what it means, and where it goes (a `Settings` field,
parsed here, or the module or library that reads it). `marathon --help` and the table in
docs/configuration.md are generated from it; `tests/test_settings.py` finds every read of a
`MARATHON_*`, `DATABASE_URL`, `RESEND_*`, `JAEGER_*` or `OTEL_*` variable and fails on one not
declared here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

__all__ = ["SANDBOX_API_KEY", "SETTINGS", "Setting", "Settings", "read"]

# Any key of Resend's shape is accepted by the sandbox; this one says where it came from.
SANDBOX_API_KEY = "re_sandbox_marathon"
RESEND_DEFAULT_URL = "https://api.resend.com"
SANDBOX_OFFSET = 25  # the sandbox beside the API: 8025 beside 8000


# Parsers: (variable, its non-empty value) -> the field's value; None keeps the field's default.
def _text(name: str, value: str) -> str:
    return value


def _url(name: str, value: str) -> str | None:
    return value.rstrip("/") or None


def _int(name: str, value: str) -> int:
    return int(value)


def _path(name: str, value: str) -> Path:
    return Path(value)


def _names(name: str, value: str) -> tuple[str, ...]:
    return tuple(n.strip().lower().rstrip(".") for n in value.split(",") if n.strip())


def _flag(name: str, value: str) -> bool | None:
    if value.strip().lower() in ("", "auto"):
        return None
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be auto, 1 or 0, got {value!r}")


def _on_off(name: str, value: str) -> bool:
    if value.strip().lower() in ("", "on", "1", "true", "yes"):
        return True
    if value.strip().lower() in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"{name} must be on or off, got {value!r}")


def _positive(name: str, value: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit() or not 1 <= int(value) <= 1000:
        raise ValueError(f"{name} must be a whole number from 1 to 1000, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Setting:
    """One environment variable, as `marathon --help` and docs/configuration.md show it.

    `field`: the `Settings` field it fills, through `parse`; without one, `read_by` names who
    reads it (a module of marathon's, or the OpenTelemetry SDK).
    """

    env: str
    default: str  # as a user sees it (Markdown: backticks are dropped in --help)
    meaning: str  # one line
    field: str | None = None
    parse: Callable[[str, str], Any] = _text
    read_by: str = "Settings"

    def read(self, environ: Mapping[str, str] | None = None) -> Any:
        """The parsed value; None when the variable is unset or empty."""
        value = (os.environ if environ is None else environ).get(self.env)
        return self.parse(self.env, value) if value else None


_OTEL_SDK = "the OpenTelemetry SDK"

SETTINGS: tuple[Setting, ...] = (
    # What to connect to
    Setting(
        "DATABASE_URL",
        "unset: embedded PostgreSQL",
        "any PostgreSQL server, e.g. `postgresql://user:pass@host/db`",
        field="database_url",
    ),
    Setting(
        "MARATHON_DATA_DIR",
        "`$XDG_DATA_HOME/marathon`, else `~/.local/share/marathon`",
        "where the embedded PostgreSQL keeps its data (`pgdata/`)",
        field="data_dir",
        parse=_path,
    ),
    Setting(
        "RESEND_API_KEY",
        "unset: the sandbox",
        "a real Resend key sends real email (unless `MARATHON_EMAIL_SANDBOX=1`)",
        field="resend_api_key",
    ),
    Setting(
        "RESEND_API_URL",
        "unset",
        "the Resend API or a sandbox; unset in sandbox mode: start the embedded sandbox",
        field="resend_api_url",
        parse=_url,
    ),
    Setting(
        "MARATHON_EMAIL_SANDBOX",
        "`auto`",
        "`auto`: the sandbox unless a key is set; `1`: always the sandbox; `0`: never",
        field="email_sandbox",
        parse=_flag,
    ),
    Setting(
        "MARATHON_EMAIL_FROM",
        "`Marathon <registrations@marathon.test>`",
        "the sender of confirmations (with real Resend: on a verified domain)",
        field="email_from",
    ),
    Setting(
        "MARATHON_SANDBOX_PORT",
        "the API's port + 25",
        "port of the embedded sandbox: unset, beside the API's `--port` (`8025` beside `8000`, "
        "`8325` beside `8300`, a free one beside `0`); `0` picks a free one",
        field="sandbox_port",
        parse=_int,
    ),
    # Tracing
    Setting("OTEL_SERVICE_NAME", "`marathon-api`", "service name in traces", field="service_name"),
    Setting(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "unset",
        "also export spans over OTLP/HTTP, e.g. `http://localhost:4318`",
        read_by="marathon.tracing.setup, and the OTLP exporter",
    ),
    Setting(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "unset",
        "the same, for traces only (a full URL, `.../v1/traces`)",
        read_by="marathon.tracing.setup, and the OTLP exporter",
    ),
    Setting(
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "`http,database`",
        "the semantic conventions the instrumentations emit (the default: the stable ones)",
        read_by="the instrumentations; marathon.tracing.setup sets the default",
    ),
    Setting(
        "MARATHON_TRACING",
        "`on`",
        "`off`: no tracing, no instrumentation installed",
        read_by="marathon.tracing.setup",
    ),
    Setting(
        "OTEL_SDK_DISABLED",
        "unset",
        "the standard switch: `true` is `MARATHON_TRACING=off`",
        read_by="marathon.tracing.setup",
    ),
    Setting(
        "OTEL_TRACES_SAMPLER",
        "unset: every trace",
        "head sampling, e.g. `parentbased_traceidratio`: less CPU, fewer waterfalls",
        read_by=_OTEL_SDK,
    ),
    Setting(
        "OTEL_TRACES_SAMPLER_ARG",
        "unset",
        "the sampler's argument, e.g. `0.1`: one trace in ten",
        read_by=_OTEL_SDK,
    ),
    Setting(
        "MARATHON_TRACE_LIMIT",
        "`200`",
        "how many recent traces the in-process store keeps",
        field="trace_limit",
        parse=_int,
    ),
    Setting(
        "JAEGER_UI_URL",
        "unset",
        "e.g. `http://localhost:16686`: trace links also point at Jaeger",
        field="jaeger_ui_url",
        parse=_url,
    ),
    Setting(
        "JAEGER_QUERY_URL",
        "unset: the marathon API",
        "a Jaeger query service for `marathon trace`, e.g. `http://localhost:16686`",
        parse=_url,
        read_by="marathon.cli.commands",
    ),
    # Processes
    Setting(
        "MARATHON_WORKER",
        "`on`",
        "`off`: no queue worker in the API process (run `marathon worker`)",
        field="worker_in_process",
        parse=_on_off,
    ),
    Setting(
        "MARATHON_WORKER_CONCURRENCY",
        "`10`",
        "jobs one worker runs at once (`marathon worker --concurrency N` wins)",
        field="worker_concurrency",
        parse=_positive,
    ),
    Setting(
        "MARATHON_EVENT_LOOP",
        "`auto`: uvloop if installed",
        "the event loop of the servers and workers: `uvloop` or `asyncio`",
        read_by="marathon.local.event_loop",
    ),
    # Who may change what
    Setting(
        "MARATHON_KNOBS",
        "`on`",
        "`off`: no run-time or per-request knob changes, no scenarios over HTTP",
        field="knobs_mutable",
        parse=_on_off,
    ),
    Setting(
        "MARATHON_ADMIN_TOKEN",
        "unset",
        "beyond loopback, shared changes need `Authorization: Bearer <this token>`",
        field="admin_token",
    ),
    Setting(
        "MARATHON_ALLOWED_HOSTS",
        "unset: IP addresses and `localhost` (beyond loopback: any name)",
        "other names the server answers to, comma-separated (`*`: any); else `421`",
        field="allowed_hosts",
        parse=_names,
    ),
    # Lab tools
    Setting(
        "MARATHON_URL",
        "unset: a throwaway stack",
        "notebooks only: `notebook.start()` uses the server at this URL",
        read_by="marathon.lab.notebook",
    ),
    Setting(
        "MARATHON_EXERCISE_DATABASE_URL",
        "unset: their own",
        "the PostgreSQL the exercises' tests use (`marathon workshop check`)",
        read_by="the exercises' test harness",
    ),
)

_BY_ENV = {s.env: s for s in SETTINGS}


def read(env: str, environ: Mapping[str, str] | None = None) -> Any:
    """One declared setting, parsed (None when unset): for code that needs only that one."""
    return _BY_ENV[env].read(environ)


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path.home() / ".local" / "share" / "marathon"
    resend_api_key: str | None = None
    resend_api_url: str | None = None
    email_sandbox: bool | None = None
    email_from: str = "Marathon <registrations@marathon.test>"
    sandbox_port: int | None = None  # None: beside the API's port (`sandbox_port_for`)
    service_name: str = "marathon-api"
    trace_limit: int = 200
    jaeger_ui_url: str | None = None
    knobs_mutable: bool = True
    worker_in_process: bool = True
    admin_token: str | None = None
    # Host names the server answers to besides IP addresses and localhost (`same_origin`).
    allowed_hosts: tuple[str, ...] = ()
    # Where the server listens (set by `serve`/`demo`, not the environment): beyond loopback,
    # shared changes need `admin_token`.
    bind_host: str = "127.0.0.1"
    worker_concurrency: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {s.field: s.read(env) for s in SETTINGS if s.field}
        if values["data_dir"] is None:  # the XDG base directory specification's default
            xdg = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
            values["data_dir"] = Path(xdg) / "marathon"
        return cls(**{name: value for name, value in values.items() if value is not None})

    @property
    def uses_sandbox(self) -> bool:
        """Talk to the sandbox unless a real key is configured and the sandbox is not forced."""
        if self.email_sandbox is None:
            return self.resend_api_key is None
        return self.email_sandbox

    @property
    def needs_embedded_sandbox(self) -> bool:
        return self.uses_sandbox and self.resend_api_url is None

    @property
    def email_api_url(self) -> str:
        return self.resend_api_url or RESEND_DEFAULT_URL

    @property
    def email_api_key(self) -> str:
        if self.uses_sandbox:
            return self.resend_api_key or SANDBOX_API_KEY
        if not self.resend_api_key:
            raise ValueError("MARATHON_EMAIL_SANDBOX=0 needs RESEND_API_KEY")
        return self.resend_api_key

    def sandbox_port_for(self, api_port: int = 8000) -> int:
        """Where the embedded sandbox listens: MARATHON_SANDBOX_PORT, else the API's port + 25,
        so a second demo on another port takes a sandbox port of its own."""
        if self.sandbox_port is not None:
            return self.sandbox_port
        return api_port + SANDBOX_OFFSET if 0 < api_port <= 65535 - SANDBOX_OFFSET else 0

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
