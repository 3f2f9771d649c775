"""Email addresses as strict as the email API's: an address Resend would refuse is a 400 at
registration, not a dead letter later.

Resend answers 422 for a `to` that is not `email@example.com` (or `Name <email@example.com>`),
that holds non-ASCII characters or a colon, or is too long. We accept a subset: one plain
address (no display name: the form asks for an address, and `Name <...>` would let a client
choose how the confirmation is addressed), a dot-atom local part (RFC 5322, no quoted strings),
and a host name with at least one dot (RFC 1035 labels, an alphabetic top-level domain).
"""

from __future__ import annotations

import re

__all__ = ["MAX_LENGTH", "problem"]

MAX_LENGTH = 254  # RFC 5321's longest path (Resend allows 320; no mailbox can be longer)
MAX_LOCAL = 64
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TLD = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")


def problem(address: str) -> str | None:
    """What the email API would refuse in `address` (never quoting it), or None."""
    if len(address) > MAX_LENGTH:
        return f"at most {MAX_LENGTH} characters"
    if not address.isascii():
        return "ASCII characters only: the email API refuses others"
    if "<" in address or ">" in address:
        return "a plain address, without a display name"
    if address.count("@") != 1:
        return "one address, with exactly one @"
    local, domain = address.split("@")
    if not local or len(local) > MAX_LOCAL or not _LOCAL.match(local):
        return (
            f"before the @, 1 to {MAX_LOCAL} letters, digits, dots (not first, last or"
            " doubled) or !#$%&'*+/=?^_`{|}~-"
        )
    labels = domain.split(".")
    if (
        len(domain) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TLD.match(labels[-1])
    ):
        return "after the @, a domain name with a dot"
    return None
