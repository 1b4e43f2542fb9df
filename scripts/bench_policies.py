"""Micro-benchmark of the two pure policies: RecommendationPolicy.evaluate and ClipPolicy.plan.

    .venv/bin/python scripts/bench_policies.py [--json]

Prints microseconds per call (median of 5 repeats) on synthetic states; never asserts on timing.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.clips import ClipPolicy, SegmentSpan, Sentence, TimedWord  # noqa: E402
from models.recommend import RecommendationPolicy, RoomState  # noqa: E402

NOW = 600_000


def room(chat_per_s: float, size_questions: int = 0) -> RoomState:
    state = RoomState("bench")
    n = int(chat_per_s * 60)
    intents = ["praise", "other", "purchase_signal", "asks_attribute", "other"]
    for i in range(n):
        ts = NOW - 60_000 + int(i * 60_000 / max(n, 1))
        state.observe_chat_insight(ts, intents[i % 5], "negative" if i % 9 == 0 else "neutral", f"msg {i % 50}", product=f"p{i % 7}")
    for i in range(size_questions):
        state.observe_chat_insight(NOW - size_questions + i, "asks_size_fit", "neutral", "what size for 160cm?")
    for k in range(120):
        state.observe_metrics(NOW - 600_000 + k * 5000, messages_per_s=chat_per_s, viewers=500, orders=1, orders_per_min=2)
    state.observe_selling_point("fabric", NOW - 100_000, NOW - 90_000, "pure silk")
    state.observe_stock("silk dress", 400)
    state.observe_fused(NOW - 1000, 0.4)
    return state


def time_per_call(fn, n: int) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    policy = RecommendationPolicy()
    rows = []
    for name, chat_per_s in (("quiet room (1 msg/s)", 1), ("hot room (50 msg/s, 3000 in window)", 50)):
        state = room(chat_per_s)
        rows.append((f"evaluate, nothing fires, {name}", time_per_call(lambda i: policy.evaluate(state, NOW + i), 2000)))

    def firing(i: int) -> None:
        state = firing_states[i]
        policy.evaluate(state, NOW)

    firing_states = [room(1, size_questions=20) for _ in range(300)]
    rows.append(("evaluate, size rule fires (formats messages)", time_per_call(lambda i: firing(i % 300), 300)))
    state = room(50)
    rows.append(("observe_chat_insight (one message)", time_per_call(lambda i: state.observe_chat_insight(NOW + i, "other", "neutral", "hi"), 20000)))

    # 30 minutes of speech: one sentence every ~5 s, 10 words each; a selling point every ~30 s
    sentences, segments, t = [], [], 0
    for i in range(360):
        words = tuple(TimedWord(t + k * 400, t + k * 400 + 350, f"w{k}") for k in range(10))
        sentences.append(Sentence(words[0].start_ms, words[-1].end_ms, "", words))
        if i % 6 < 4:
            segments.append(SegmentSpan("price" if i % 12 < 6 else "fabric_material", words[0].start_ms, words[-1].end_ms, "", 0.8))
        t = words[-1].end_ms + 1000
    clips = ClipPolicy()
    clips.plan("bench", segments[:2], sentences)  # warm up (jieba etc.)
    rows.append(("ClipPolicy.plan, 30 min room (360 sentences, 240 segments)", time_per_call(lambda i: clips.plan("bench", segments, sentences), 5)))
    rows.append(("ClipPolicy.plan, one closing segment + 60 recent sentences", time_per_call(lambda i: clips.plan("bench", segments[-4:], sentences[-60:]), 200)))

    command = "python scripts/bench_policies.py" + (" --json" if "--json" in sys.argv else "")
    if "--json" in sys.argv:
        print(json.dumps({"command": command, "us_per_call": {k: round(v, 1) for k, v in rows}}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pure policies, µs per call (median of 5 runs)")
    table.add_column("case")
    table.add_column("µs/call", justify="right")
    for name, us in rows:
        table.add_row(name, f"{us:,.1f}")
    Console().print(table)
    print(f"command: {command}")


if __name__ == "__main__":
    main()
