"""What a learner may see of other learners, in one place.

On loopback whoever is at the keyboard is the instructor and sees everything; beyond it the
instructor is the token's holder (`instructor.is_instructor`). Everyone else sees what lets
them recognise their own registration among others, no more:

- an email address as its first character only: `a…@…` (no domain: on a class's server the
  domain of a work address names the employer);
- a runner id shortened to its first 8 characters: the full id is the receipt the registrant
  got in the answer to their registration, and whoever holds it may ask its status
  (`GET /api/registrations/{id}`); no list shows it to others;
- no message bodies, names or tags of other runners' emails.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SHORT_ID", "email", "outbox_entry", "runner_id"]

SHORT_ID = 8


def email(address: str, *, full: bool) -> str:
    """`ada.lovelace.1f2e@example.com` -> `a…@example.com` for the instructor (enough to
    recognise, no more, even there), `a…@…` for everyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain if full else '…'}"


def runner_id(value: object, *, full: bool) -> str:
    text = str(value)
    return text if full else f"{text[:SHORT_ID]}…"


def outbox_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A delivered email as others may see it: when, to whom (masked), what about."""
    key = entry.get("idempotency_key")
    return {
        "object": entry.get("object"),
        "id": entry.get("id"),
        "from": entry.get("from"),
        "to": [email(a, full=False) for a in entry.get("to", [])],
        "subject": entry.get("subject"),
        "idempotency_key": None if key is None else runner_id(key, full=False),
        "created_at": entry.get("created_at"),
        "last_event": entry.get("last_event"),
    }
