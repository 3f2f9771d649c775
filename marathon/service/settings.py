"""Deployment settings, read once from the environment (the demo knobs live in `knobs`).

| variable | default | meaning |
|---|---|---|
| `DATABASE_URL` | unset: embedded PostgreSQL | any server, e.g. `postgresql://u:p@host/db` |
| `MARATHON_DATA_DIR` | `$XDG_DATA_HOME/marathon` | where the embedded PostgreSQL keeps its data |
| `RESEND_API_KEY` | unset: sandbox | a real key sends real email (unless the sandbox is forced) |
| `RESEND_API_URL` | unset | the Resend API; unset in sandbox mode: start the embedded sandbox |
| `MARATHON_EMAIL_SANDBOX` | `auto` | `auto`: sandbox unless a key is set; `1` always; `0` never |
| `MARATHON_EMAIL_FROM` | `Marathon <registrations@marathon.test>` | the confirmation's sender |
| `MARATHON_SANDBOX_PORT` | `8025` | port of the embedded sandbox (0: any free port) |
| `OTEL_SERVICE_NAME` | `marathon-api` | service name in traces |
| `MARATHON_TRACE_LIMIT` | `200` | how many recent traces the in-process store keeps |
| `JAEGER_UI_URL` | unset | e.g. `http://localhost:16686`: trace links also point at Jaeger |
| `JAEGER_QUERY_URL` | unset | where `marathon` reads traces from a real Jaeger |
| `MARATHON_WORKER` | `on` | `off`: this process runs no queue worker (run `marathon worker`) |
| `MARATHON_WORKER_CONCURRENCY` | `10` | jobs one worker process runs at once |
| `MARATHON_EVENT_LOOP` | `auto` | `uvloop` or `asyncio` (`auto`: uvloop if installed) |
| `MARATHON_TRACING` | `on` | `off` (or `OTEL_SDK_DISABLED=true`): no tracing, no instrumentation |
| `MARATHON_KNOBS` | `on` | `off`: no run-time (`PUT /api/knobs`) or per-request knob changes |
| `MARATHON_ADMIN_TOKEN` | unset | the instructor's token for shared changes beyond loopback |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["SANDBOX_API_KEY", "Settings"]

# Any key of Resend's shape is accepted by the sandbox; this one says where it came from.
SANDBOX_API_KEY = "re_sandbox_marathon"
RESEND_DEFAULT_URL = "https://api.resend.com"


def _flag(value: str | None) -> bool | None:
    if value is None or value.strip().lower() in ("", "auto"):
        return None
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"MARATHON_EMAIL_SANDBOX must be auto, 1 or 0, got {value!r}")


def _on_off(name: str, value: str | None) -> bool:
    if value is None or value.strip().lower() in ("", "on", "1", "true", "yes"):
        return True
    if value.strip().lower() in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"{name} must be on or off, got {value!r}")


def _positive(name: str, value: str | None) -> int:
    if value is None or not value.strip():
        return Settings.worker_concurrency
    if not value.strip().isdigit() or not 1 <= int(value) <= 1000:
        raise ValueError(f"{name} must be a whole number from 1 to 1000, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path.home() / ".local" / "share" / "marathon"
    resend_api_key: str | None = None
    resend_api_url: str | None = None
    email_sandbox: bool | None = None
    email_from: str = "Marathon <registrations@marathon.test>"
    sandbox_port: int = 8025
    service_name: str = "marathon-api"
    trace_limit: int = 200
    jaeger_ui_url: str | None = None
    jaeger_query_url: str | None = None
    knobs_mutable: bool = True
    worker_in_process: bool = True
    admin_token: str | None = None
    # Where the server listens (set by `serve`/`demo`, not the environment): beyond loopback,
    # shared changes need `admin_token`.
    bind_host: str = "127.0.0.1"
    worker_concurrency: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        xdg = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("MARATHON_DATA_DIR") or Path(xdg) / "marathon"),
            resend_api_key=env.get("RESEND_API_KEY") or None,
            resend_api_url=(env.get("RESEND_API_URL") or "").rstrip("/") or None,
            email_sandbox=_flag(env.get("MARATHON_EMAIL_SANDBOX")),
            email_from=env.get("MARATHON_EMAIL_FROM") or cls.email_from,
            sandbox_port=int(env.get("MARATHON_SANDBOX_PORT") or cls.sandbox_port),
            service_name=env.get("OTEL_SERVICE_NAME") or cls.service_name,
            trace_limit=int(env.get("MARATHON_TRACE_LIMIT") or cls.trace_limit),
            jaeger_ui_url=(env.get("JAEGER_UI_URL") or "").rstrip("/") or None,
            jaeger_query_url=(env.get("JAEGER_QUERY_URL") or "").rstrip("/") or None,
            knobs_mutable=_on_off("MARATHON_KNOBS", env.get("MARATHON_KNOBS")),
            worker_in_process=_on_off("MARATHON_WORKER", env.get("MARATHON_WORKER")),
            admin_token=env.get("MARATHON_ADMIN_TOKEN") or None,
            worker_concurrency=_positive(
                "MARATHON_WORKER_CONCURRENCY", env.get("MARATHON_WORKER_CONCURRENCY")
            ),
        )

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

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
