"""Was the confirmation delivered? The sandbox's outbox knows; with real Resend, we cannot see."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from opentelemetry.instrumentation.utils import suppress_instrumentation

from marathon.service.settings import Settings
from marathon.service.transport import tls_context

__all__ = ["email_delivered"]


async def email_delivered(settings: Settings, runner_id: uuid.UUID) -> dict[str, Any]:
    """Ask the sandbox's outbox; with real Resend, delivery is not ours to see (`None`)."""
    if not settings.uses_sandbox:
        return {"delivered": None, "email_id": None, "sent": None}
    # The process's one TLS context: 100 status streams asking every few seconds once built
    # one each (the CA bundle parsed, tens of ms) and made everyone's registrations wait.
    with suppress_instrumentation():
        async with httpx.AsyncClient(timeout=5, verify=tls_context()) as client:
            r = await client.get(
                f"{settings.email_api_url}/outbox", params={"idempotency_key": str(runner_id)}
            )
    r.raise_for_status()
    emails = r.json()["data"]
    first = emails[0]["id"] if emails else None
    return {"delivered": bool(emails), "email_id": first, "sent": len(emails)}
