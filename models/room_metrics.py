"""Per-room chat and commerce metrics over tumbling windows of stream time. Pure.

Events come from several sources (Kafka topics); order holds within a source, not across
sources. Each source's watermark is the newest stream time it has shown (events or
``watermark`` markers); a window closes once every source's watermark has passed its end.
An event for an already closed window is counted as late and dropped.

State is a JSON-safe dict so a processor can keep it in a faust table (and get it back from
the changelog after a crash). Redelivered events (at-least-once) are recognised by their
position in their source (the Kafka offset: a room always lives on one partition per topic):
the state remembers the last position applied per source, so a replay after a crash is
skipped exactly, with O(1) state. (The same input *produced* twice has two positions; an
idempotent producer on real Kafka prevents that.)
"""

from __future__ import annotations

from typing import Any

_COUNTS = ("messages", "orders", "order_units", "carts", "likes", "gifts", "payment_failures")
ENDED = 2**62  # watermark of a source that said "end"


def _empty_window(index: int) -> dict[str, Any]:
    return {"index": index, **{k: 0 for k in _COUNTS}, "gmv": 0.0,
            "chatters": [], "viewers": None, "stock": None}


class TumblingRoomMetrics:
    """Counts for one room. Every ``observe_*`` returns the windows it closed, oldest first."""

    def __init__(self, window_ms: int, sources: tuple[str, ...], state: dict[str, Any] | None = None,
                 max_empty_windows: int = 12):
        if window_ms <= 0:
            raise ValueError("window_ms must be positive")
        self.window_ms = window_ms
        self.sources = sources
        self.max_empty_windows = max_empty_windows
        self.state: dict[str, Any] = state or {
            "open": {},               # str(index) -> window
            "closed_through": -1,     # highest window index already emitted
            "positions": {},          # source -> last applied position (Kafka offset)
            "watermarks": {},         # source -> stream ms
            "totals": {"messages": 0, "orders": 0, "gmv": 0.0},
            "last_viewers": None, "last_stock": None, "late": 0,
        }

    # ------------------------------------------------------------------ input

    def is_duplicate(self, source: str, position: int) -> bool:
        """Was the input at this position of ``source`` already applied (a redelivery)?"""
        return position <= self.state["positions"].get(source, -1)

    def _applied(self, source: str, position: int | None) -> bool:
        """Record ``position`` as applied; False if it already was."""
        if position is None:
            return True
        if self.is_duplicate(source, position):
            return False
        self.state["positions"][source] = position
        return True

    def observe_chat(self, source: str, position: int | None, stream_ms: int, user_id: str) -> list[dict[str, Any]]:
        if not self._applied(source, position):
            return []
        return self._observe(source, stream_ms, "chat", user_id=user_id)

    def observe_commerce(self, source: str, position: int | None, stream_ms: int, type_: str, count: int = 1,
                         amount: float = 0.0) -> list[dict[str, Any]]:
        if not self._applied(source, position):
            return []
        return self._observe(source, stream_ms, type_, count=count, amount=amount)

    def observe_watermark(self, source: str, stream_ms: int) -> list[dict[str, Any]]:
        self._advance(source, stream_ms)
        return self._close_ready()

    def end_of_input(self, source: str) -> list[dict[str, Any]]:
        """A source ended; once every source has, all windows close and the last is final."""
        self._advance(source, ENDED)
        if all(self.state["watermarks"].get(s) == ENDED for s in self.sources):
            return self.flush(final=True)
        return self._close_ready()

    def flush(self, final: bool = False) -> list[dict[str, Any]]:
        """Close every open window now (an idle room, or the end of the stream)."""
        indices = sorted(int(i) for i in self.state["open"])
        out: list[dict[str, Any]] = []
        for n, idx in enumerate(indices):
            out += self._close(idx, final=final and n == len(indices) - 1)
        return out

    @property
    def late_events(self) -> int:
        return self.state["late"]

    # ------------------------------------------------------------------ internals

    def _advance(self, source: str, stream_ms: int) -> None:
        wm = self.state["watermarks"]
        wm[source] = max(wm.get(source, -1), stream_ms)

    def _observe(self, source: str, stream_ms: int, what: str, *, user_id: str = "",
                 count: int = 1, amount: float = 0.0) -> list[dict[str, Any]]:
        self._advance(source, stream_ms)
        index = stream_ms // self.window_ms
        if index <= self.state["closed_through"]:
            self.state["late"] += 1
            return self._close_ready()
        key = str(index)
        w = self.state["open"].get(key)
        if w is None:  # not setdefault: that would build an empty window for every event
            w = self.state["open"][key] = _empty_window(index)
        totals = self.state["totals"]
        if what == "chat":
            w["messages"] += 1
            totals["messages"] += 1
            if user_id and user_id not in w["chatters"]:
                w["chatters"].append(user_id)
        elif what == "order":
            w["orders"] += 1
            w["order_units"] += count
            w["gmv"] += amount
            totals["orders"] += 1
            totals["gmv"] += amount
        elif what in ("cart", "like", "gift"):
            w[what + "s"] += count
        elif what == "payment_failed":
            w["payment_failures"] += count
        elif what in ("viewers", "stock"):
            w[what] = count
            self.state["last_" + what] = count
        return self._close_ready()

    def _watermark(self) -> int:
        wm = self.state["watermarks"]
        return min((wm.get(s, -1) for s in self.sources), default=-1)

    def _close_ready(self) -> list[dict[str, Any]]:
        """Close windows whose end every source has passed (plus empty ones in between)."""
        watermark = self._watermark()
        out: list[dict[str, Any]] = []
        for idx in sorted(int(i) for i in self.state["open"]):
            if (idx + 1) * self.window_ms > watermark:
                break
            out += self._close(idx, final=False)
        return out

    def _close(self, idx: int, final: bool) -> list[dict[str, Any]]:
        out = []
        # empty windows in a gap are emitted too (a chat collapse is a signal), up to a cap
        first_empty = max(self.state["closed_through"] + 1, idx - self.max_empty_windows)
        if self.state["closed_through"] >= 0:
            out += [self._summary(_empty_window(i), False) for i in range(first_empty, idx)]
        w = self.state["open"].pop(str(idx))
        out.append(self._summary(w, final))
        self.state["closed_through"] = idx
        return out

    def _summary(self, w: dict[str, Any], final: bool) -> dict[str, Any]:
        seconds = self.window_ms / 1000.0
        totals = self.state["totals"]
        return {
            "window_index": w["index"],
            "window_start_ms": w["index"] * self.window_ms,
            "window_ms": self.window_ms,
            "messages": w["messages"],
            "messages_per_s": round(w["messages"] / seconds, 3),
            "unique_chatters": len(w["chatters"]),
            "orders": w["orders"],
            "orders_per_min": round(w["orders"] * 60.0 / seconds, 3),
            "order_units": w["order_units"],
            "gmv": round(w["gmv"], 2),
            "carts": w["carts"],
            "likes": w["likes"],
            "gifts": w["gifts"],
            "payment_failures": w["payment_failures"],
            "viewers": w["viewers"] if w["viewers"] is not None else self.state["last_viewers"],
            "stock": w["stock"] if w["stock"] is not None else self.state["last_stock"],
            "late_events": self.state["late"],
            # running totals of everything observed when this window closed
            "total_messages": totals["messages"],
            "total_orders": totals["orders"],
            "total_gmv": round(totals["gmv"], 2),
            "final": final,
        }
