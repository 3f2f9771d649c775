"""Exercises reuse the test suite's real components: embedded PostgreSQL, the sandbox, spans."""

from __future__ import annotations

import sys
from pathlib import Path

# The repository (marathon and its tests' fixtures); a copy elsewhere sets PYTHONPATH instead.
sys.path.insert(0, str(Path(__file__).parent.parent))

from tests.conftest import (  # noqa: F401
    anyio_backend,
    default_knobs,
    pg_url,
    sandbox,
    settings,
)
