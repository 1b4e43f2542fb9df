"""Per-category attribution priors on disk, so a new room starts warm.

One JSON file per category (``<directory>/<category>.json``). It keeps, per class and outcome, the
exposure-weighted SUM of finished rooms' betas and the SUM of their exposed windows, so adding a
room is exact and order-free (the prior is sum ÷ weight, the same weighting as
:func:`models.attribution.category_prior`):

    store = CategoryPriorStore(Path("var/attribution"))
    model = UpliftAttribution.warm(room_id, store.prior("apparel"))   # a new room
    ...
    store.add_room("apparel", model)                                   # at the room's end

Pure: files only (no Kafka, no asyncio). A write goes to a temporary file and is renamed over the
old one, so a reader never sees half a file. A file that cannot be read raises
:class:`PriorStoreError` (one line naming the file); a category with no file is an empty prior.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

from .model import OUTCOMES, UpliftAttribution

STORE_FORMAT = "livelens.attribution-prior.v1"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class PriorStoreError(ValueError):
    """A prior file that cannot be used; the message is one line naming the file."""


class CategoryPriorStore:
    def __init__(self, directory: Path | str, min_windows: int = 1) -> None:
        self.directory = Path(directory)
        #: a room's class counts towards the prior once it had this many exposed windows
        self.min_windows = min_windows

    def path(self, category: str) -> Path:
        name = _SAFE.sub("_", category.strip()) or "_default"
        return self.directory / f"{name}.json"

    def read(self, category: str) -> dict[str, Any]:
        """The stored sums of ``category`` (an empty store when it has no file yet)."""
        path = self.path(category)
        if not path.exists():
            return {"format": STORE_FORMAT, "category": category, "rooms": 0, "classes": {}}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PriorStoreError(f"{path}: cannot read the attribution prior: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != STORE_FORMAT or not isinstance(data.get("classes"), dict):
            raise PriorStoreError(f"{path}: not a {STORE_FORMAT} file")
        return data

    def prior(self, category: str) -> dict[str, dict[str, Any]]:
        """``{label: {"kind", "beta": {outcome: value}}}`` for :meth:`UpliftAttribution.warm`."""
        out: dict[str, dict[str, Any]] = {}
        for label, entry in self.read(category)["classes"].items():
            try:
                beta = {o: round(float(entry["sum"][o]) / float(entry["weight"][o]), 4) for o in OUTCOMES if float(entry["weight"].get(o, 0)) > 0}
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise PriorStoreError(f"{self.path(category)}: classes.{label}: malformed entry ({exc!r})") from None
            if beta:
                out[label] = {"kind": str(entry.get("kind", "selling_point")), "beta": beta}
        return out

    def add_room(self, category: str, room: UpliftAttribution) -> bool:
        """Fold a finished room's estimates into its category. False when it had no evidence.
        Workers sharing the directory take turns (an exclusive lock on ``<category>.json.lock``),
        so two rooms ending at once both count."""
        path = self.path(category)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return self._add_room(category, room)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _add_room(self, category: str, room: UpliftAttribution) -> bool:
        data = self.read(category)
        added = False
        for label in room.labels:
            exposed = sum(1 for w in room.windows if label in w["x"])
            if exposed < self.min_windows:
                continue
            entry = data["classes"].setdefault(label, {"kind": room.kinds[label], "sum": {}, "weight": {}, "rooms": 0})
            entry["rooms"] += 1
            for outcome in OUTCOMES:
                beta = room.beta.get(outcome, {}).get(label)
                if beta is None:
                    continue
                entry["sum"][outcome] = entry["sum"].get(outcome, 0.0) + exposed * float(beta)
                entry["weight"][outcome] = entry["weight"].get(outcome, 0.0) + exposed
            added = True
        if added:
            data["rooms"] = int(data.get("rooms", 0)) + 1
            self._write(self.path(category), data)
        return added

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        temporary.replace(path)
