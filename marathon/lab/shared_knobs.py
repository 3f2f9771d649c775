"""Set shared knobs on a server for a while, then put back exactly what changed.

    with shared_knobs(client, {"email_outage": "on"}, headers=admin) as replaced:
        ...  # every learner's requests see the outage; `replaced` is {"email_outage": "off"}

`PUT /api/knobs` answers with the values it replaced, so the restore needs no `GET` first (and
a knob sent with the value it already had is left alone afterwards). The page's lesson does the
same in JavaScript (`views/static/lesson.js`, `withSharedKnobs`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

__all__ = ["put_knobs", "shared_knobs"]


def put_knobs(
    client: httpx.Client, values: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`PUT /api/knobs`; the values it replaced (`{name: previous value}`, changed ones only)."""
    r = client.put("/api/knobs", json=dict(values), headers=dict(headers or {}))
    r.raise_for_status()
    return dict(r.json()["replaced"])


@contextlib.contextmanager
def shared_knobs(
    client: httpx.Client, values: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """`values` in force on the server at `client`'s base URL while the block runs; afterwards,
    also when it raises, what they replaced is put back. Nothing is sent if `values` is empty.
    `headers`: for both calls (the instructor's `Authorization` beyond loopback)."""
    replaced = put_knobs(client, values, headers=headers) if values else {}
    try:
        yield dict(replaced)
    finally:
        if replaced:
            put_knobs(client, replaced, headers=headers)
