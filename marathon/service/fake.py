"""Fictional runners for the demo, the page and the tests (no real person's data, ever)."""

from __future__ import annotations

import random
from typing import Any

from marathon.registration import DISTANCES

__all__ = ["runner"]

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
STREETS = ["Elm Street", "Harbour Road", "Station Lane", "Mill Way", "Park Avenue"]


def runner(rng: random.Random | None = None, **fields: Any) -> dict[str, Any]:
    """A registration body for a fictional runner with a unique address at example.com."""
    rng = rng or random.Random()
    first, last = rng.choice(FIRST), rng.choice(LAST)
    body = {
        "firstName": first,
        "lastName": last,
        "email": f"{first}.{last}.{rng.getrandbits(32):08x}@example.com".lower(),
        "address": f"{rng.randint(1, 200)} {rng.choice(STREETS)}, Springfield",
        "distance": rng.choice(DISTANCES),
    }
    body.update(fields)
    return body
