"""An exercise's `.meta/config.json`, exercism's way of naming the files in its folder.

```json
{"slug": "sequential", "title": "Warm-up: one thing after another",
 "files": {"solution": ["strategy.py"], "test": ["test_sequential.py"],
           "exemplar": [".meta/exemplar.py"], "stub": [".meta/stub.py"]}}
```

Paths are relative to the exercise's folder. `solution` is the file the learner edits (one per
exercise here); `stub` is that file as given, which `marathon workshop reset` restores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROLES", "Config", "read"]

ROLES = ("solution", "test", "exemplar", "stub")


@dataclass(frozen=True)
class Config:
    folder: Path
    slug: str
    title: str
    files: dict[str, tuple[Path, ...]]

    def one(self, role: str) -> Path:
        """The single file of a role (`solution`, `exemplar`, `stub`)."""
        [path] = self.files[role]
        return path

    @property
    def solution(self) -> Path:
        return self.one("solution")


def read(folder: Path) -> Config:
    """The exercise's config; a `ValueError` names what is missing or malformed."""
    path = folder / ".meta" / "config.json"
    data = json.loads(path.read_text())
    files = data.get("files", {})
    missing = [role for role in ROLES if not files.get(role)]
    if missing or not isinstance(data.get("title"), str) or not isinstance(data.get("slug"), str):
        raise ValueError(f"{path}: needs a slug, a title and files for {', '.join(ROLES)}")
    if any(len(files[role]) != 1 for role in ("solution", "exemplar", "stub")):
        raise ValueError(f"{path}: one solution, one exemplar and one stub")
    return Config(
        folder=folder,
        slug=data["slug"],
        title=data["title"],
        files={role: tuple(folder / name for name in files[role]) for role in ROLES},
    )
