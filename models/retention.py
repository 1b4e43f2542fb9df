"""Live retention around selling points: viewers joining and leaving while each selling point is
explained and in the minute after it. Pure; state is a JSON-able dict (the metrics processor keeps
it in its table).

Input is what the metrics already get: the commerce feed's viewer counts (``viewers`` events: the
room's current audience) and the closed selling points. Between two counts only the net change is
known, so ``joined`` / ``left`` are the sums of the rises / falls of the count over the span (at
least that many joined / left).

    tracker = SellingPointRetention()
    tracker.observe_viewers(61_000, 1_240)            # -> rows whose minute-after just completed
    tracker.observe_selling_point("s1", "fabric_material", 40_000, 70_000)  # -> the "during" row
    row["viewers_start"], row["viewers_end"], row["viewers_after"], row["joined"], row["left"]

Each selling point gives two rows: once the viewer clock has reached its end (``final`` False:
start -> end) and once it has passed ``after_ms`` after that (``final`` True: also end -> end +
after_ms). The clock is the newest viewer count's time, or the commerce watermark
(:meth:`advance`): a selling point and the viewer counts come on different topics, in either
order, and a row is made only when the counts it needs are in.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

DEFAULT_AFTER_MS = 60_000


class SellingPointRetention:
    def __init__(self, state: dict[str, Any] | None = None, after_ms: int = DEFAULT_AFTER_MS, keep_ms: int = 15 * 60_000) -> None:
        self.after_ms = after_ms
        #: viewer counts older than this before the newest are dropped (a selling point longer than
        #: this loses its start count)
        self.keep_ms = keep_ms
        self.state: dict[str, Any] = state if state is not None else {"samples": [], "waiting": [], "clock": -1}

    def observe_viewers(self, stream_ms: int, count: int) -> list[dict[str, Any]]:
        samples = self.state["samples"]
        if samples and stream_ms < samples[-1][0]:
            samples.insert(bisect_right([s[0] for s in samples], stream_ms), [int(stream_ms), int(count)])  # late: in order
        elif not samples or count != samples[-1][1]:
            samples.append([int(stream_ms), int(count)])  # an unchanged count adds nothing: the state stays small
        horizon = int(stream_ms) - self.keep_ms
        while len(samples) > 2 and samples[1][0] < horizon:
            samples.pop(0)
        return self.advance(stream_ms)

    def advance(self, stream_ms: int) -> list[dict[str, Any]]:
        """The commerce clock reached ``stream_ms`` (a viewer count or a watermark): the rows now due."""
        self.state["clock"] = max(self.state.get("clock", -1), int(stream_ms))
        return self._due()

    def observe_selling_point(self, segment_id: str, label: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """A closed selling point: its rows as soon as the viewer counts they need are in."""
        self.state["waiting"].append({"segment_id": segment_id, "label": label, "start_ms": int(start_ms),
                                      "end_ms": int(max(end_ms, start_ms)), "closed": False})
        return self._due()

    def _due(self) -> list[dict[str, Any]]:
        now_ms, rows, waiting = self.state.get("clock", -1), [], []
        for e in self.state["waiting"]:
            if not e["closed"] and now_ms >= e["end_ms"]:
                rows.append(self._row(e, final=False))
                e["closed"] = True
            if now_ms >= e["end_ms"] + self.after_ms:
                rows.append(self._row(e, final=True))
            else:
                waiting.append(e)
        self.state["waiting"] = waiting
        return rows

    def _count_at(self, ms: int) -> int | None:
        """The last count at or before ``ms`` (None: none known yet)."""
        samples = self.state["samples"]
        index = bisect_right([s[0] for s in samples], ms) - 1
        return samples[index][1] if index >= 0 else None

    def _flows(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """(joined, left): the rises and falls of the count from ``start_ms`` to ``end_ms``."""
        joined = left = 0
        previous = self._count_at(start_ms)
        for ms, count in self.state["samples"]:
            if start_ms < ms <= end_ms:
                if previous is not None:
                    joined += max(count - previous, 0)
                    left += max(previous - count, 0)
                previous = count
        return joined, left

    def _row(self, e: dict[str, Any], final: bool) -> dict[str, Any]:
        until = e["end_ms"] + (self.after_ms if final else 0)
        joined, left = self._flows(e["start_ms"], until)
        e = {k: v for k, v in e.items() if k != "closed"}
        return {**e, "after_ms": self.after_ms, "final": final, "viewers_start": self._count_at(e["start_ms"]),
                "viewers_end": self._count_at(e["end_ms"]), "viewers_after": self._count_at(until) if final else None,
                "joined": joined, "left": left}
