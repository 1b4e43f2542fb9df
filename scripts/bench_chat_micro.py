"""Micro-benchmark: µs per ``ChatAnalyzer.analyze`` and per ``ChatAggregator.add`` on the sample
room's chat lines (``livelens sample-room`` writes them to var/sample_room/*/chat.jsonl).

    .venv/bin/python scripts/bench_chat_micro.py [repeats]

CPU time of this process (``time.process_time``), best and median of the repeats: other load on
the machine moves the figures less than wall-clock time would.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

from models.understanding.chat import ChatAnalyzer
from models.understanding.streaming import ChatAggregator

ROOT = Path(__file__).resolve().parents[1]


def _rows() -> list[tuple[int, str]]:
    rows = []
    for path in sorted((ROOT / "var" / "sample_room").glob("*/chat.jsonl")):
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            if "text" in row:
                rows.append((int(row["t"] * 1000), row["text"]))
    return sorted(rows, key=lambda r: r[0])


def _per_item_us(fn, n: int, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) / n * 1e6)
    times.sort()
    return times[0], times[len(times) // 2]


def main(repeats: int = 9) -> None:
    rows = _rows()
    if not rows:
        sys.exit("no var/sample_room/*/chat.jsonl: run `livelens sample-room` first")
    analyzer = ChatAnalyzer()
    analyses = [analyzer.analyze(text) for _, text in rows]  # also warms up

    def analyze_all() -> None:
        for _, text in rows:
            analyzer.analyze(text)

    def add_all() -> None:
        agg = ChatAggregator()
        for (ms, text), analysis in zip(rows, analyses):
            agg.add(ms, text, analysis)

    print(f"{len(rows)} messages, {sum(len(t) for _, t in rows) / len(rows):.1f} chars on average")
    print("ChatAnalyzer.analyze   best %6.1f  median %6.1f  µs/message" % _per_item_us(analyze_all, len(rows), repeats))
    print("ChatAggregator.add     best %6.2f  median %6.2f  µs/message" % _per_item_us(add_all, len(rows), repeats))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
