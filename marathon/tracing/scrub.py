"""No personal data in logs or spans: redact anything that looks like an email address."""

from __future__ import annotations

import logging
import re

__all__ = ["ScrubbingFilter", "scrub"]

_EMAIL_LIKE = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+")


def scrub(text: str) -> str:
    """Redact anything that looks like an email address (defence in depth for error messages)."""
    return _EMAIL_LIKE.sub("[redacted]", text)


class ScrubbingFilter(logging.Filter):
    """Redact email-like text from log lines, tracebacks included: our own lines carry only
    runner ids, but libraries log exceptions whose messages may quote an address (a real
    email API's validation error, asyncio's "Task exception was never retrieved")."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), None
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
