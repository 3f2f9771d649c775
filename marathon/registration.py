"""A runner's registration: the request body, validated field by field, and its id."""

from __future__ import annotations

import os
import time
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from marathon.service import addresses

__all__ = ["DISTANCES", "FieldError", "Runner", "parse", "uuid7"]

DISTANCES = ("5k", "10k", "half", "full")
MAX_BODY_BYTES = 16 * 1024

# JSON name -> (attribute, max length)
_FIELDS = {
    "firstName": ("first_name", 100),
    "lastName": ("last_name", 100),
    "email": ("email", addresses.MAX_LENGTH),
    "address": ("address", 500),
    "distance": ("distance", 10),
}


# NUL and other control or format characters (Unicode Cc, Cf, Cs), and the line and paragraph
# separators (Zl: U+2028, Zp: U+2029): PostgreSQL refuses NUL, the separators break a line as
# a newline does, and the others hide text from the people who read it.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _has_control(value: str) -> bool:
    return any(unicodedata.category(c) in REFUSED_CATEGORIES for c in value)


def refused_ranges() -> str:
    """The refused characters of the Basic Multilingual Plane as a regex class's body
    (`\\u0000-\\u001f...`), for the OpenAPI schema's pattern: one rule, the server's."""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)) in REFUSED_CATEGORIES:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


@dataclass(frozen=True)
class FieldError:
    key: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "message": self.message, "source": "body"}


@dataclass(frozen=True)
class Runner:
    """A registration. Only `id` may appear in spans and logs: the rest is personal data."""

    id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    address: str
    distance: str

    def __repr__(self) -> str:  # keep personal data out of tracebacks and debug logs
        return f"Runner(id={self.id}, distance={self.distance!r})"


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sortable by time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | rand & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return uuid.UUID(int=value)


def parse(body: Any) -> Runner | list[FieldError]:
    """The runner, with a fresh id, or every problem with the body (never echoing values)."""
    if not isinstance(body, dict):
        return [FieldError("body", "must be a JSON object")]
    errors = [FieldError(k, "unknown field") for k in body if k not in _FIELDS]
    values: dict[str, str] = {}
    for key, (attr, max_len) in _FIELDS.items():
        value = body.get(key)
        if value is None:
            errors.append(FieldError(key, "is required"))
        elif not isinstance(value, str):
            errors.append(FieldError(key, "must be a string"))
        elif not value.strip():
            errors.append(FieldError(key, "must not be empty"))
        elif len(value) > max_len:
            errors.append(FieldError(key, f"must be at most {max_len} characters"))
        elif _has_control(value):
            errors.append(FieldError(key, "must not contain control characters or line breaks"))
        else:
            values[attr] = value.strip()
    if "email" in values and (why := addresses.problem(values["email"])):
        errors.append(FieldError("email", f"must be an email address like name@example.com: {why}"))
    if "distance" in values and values["distance"] not in DISTANCES:
        errors.append(FieldError("distance", f"must be one of {', '.join(DISTANCES)}"))
    if errors:
        return errors
    return Runner(id=uuid7(), **values)
