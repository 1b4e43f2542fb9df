"""What refining chat insights with the encoder heads costs the worker's event loop.

    PYTHONPATH=. .venv/bin/python scripts/bench_chat_refine.py [--rate 808] [--seconds 20]

The sample rooms' chat (zh + en, cycled) becomes ChatInsights at ``--rate`` messages/s (bench
load's 50 rooms offer ~808 chat messages/s); every 100 ms (the insight flush) the pending ones go
to ``ChatProcessor.refine`` in a thread, as the live processor does. Meanwhile a 1 ms ticker on
the loop records how late it wakes (the loop lag every event handled on the loop pays). Printed:
loop lag p50/p99/max with refinement off and on (same process, same run), refine CPU ms per
message, the share of a core it takes, and the RSS the encoder adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from pathlib import Path

from processors.chat import ChatProcessor
from processors.shared import shared_chat_analysis
from streams.schemas import ChatMessage
from streams.settings import Settings


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _lines(sample_dir: Path) -> list[str]:
    out = []
    for lang in ("zh", "en"):
        path = sample_dir / lang / "chat.jsonl"
        out += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


async def _run(processor: ChatProcessor, lines: list[str], rate: float, seconds: float, refine: bool,
               unique: bool) -> dict:
    lags: list[float] = []
    stop = time.perf_counter() + seconds
    pending = []
    cpu = {"s": 0.0, "n": 0}

    async def ticker():
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - t0 - 0.001) * 1000)

    async def producer():
        i = 0
        t0 = time.perf_counter()
        while time.perf_counter() < stop:
            due = int((time.perf_counter() - t0) * rate)
            while i < due:  # the fast per-message decision, on the loop, as handle() does
                msg = ChatMessage(room_id="r", event_id=f"m{i}", stream_ms=i, user_id="u", text=lines[i % len(lines)] + (f" {i}" if unique else ""))
                pending.append(processor.handle(_input(msg), processor.load_state(None))[0].event)
                i += 1
            await asyncio.sleep(0.005)

    async def flusher():
        while time.perf_counter() < stop:
            await asyncio.sleep(0.1)
            batch = pending[:]
            pending.clear()
            if refine and batch:
                deadline = time.monotonic() + processor.u.chat_encoder_budget_ms / 1000.0  # as the live flush

                def work():
                    t = time.thread_time()
                    done = processor.refine(batch, deadline)
                    return time.thread_time() - t, done
                spent, done = await asyncio.to_thread(work)
                cpu["s"] += spent
                cpu["n"] += done
                cpu["offered"] = cpu.get("offered", 0) + len(batch)

    await asyncio.gather(ticker(), producer(), flusher())
    lags.sort()
    q = lambda p: round(lags[min(len(lags) - 1, int(p * len(lags)))], 2)  # noqa: E731
    return {"refine": refine, "ticks": len(lags), "lag_p50_ms": q(0.5), "lag_p99_ms": q(0.99),
            "lag_max_ms": round(lags[-1], 2), "refined": cpu["n"], "flushed": cpu.get("offered", 0),
            "refine_cpu_ms_per_msg": round(1000 * cpu["s"] / cpu["n"], 3) if cpu["n"] else None,
            "refine_core_share": round(cpu["s"] / seconds, 3)}


def _input(msg):
    from processors.runtime import Input

    return Input("chat", msg, 0, 0, msg.ingested_at)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=808.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--sample-dir", type=Path, default=Path("var/sample_room"))
    ap.add_argument("--unique", action="store_true",
                    help="make every message distinct (a number appended): no embedding cache hits")
    args = ap.parse_args()
    settings = Settings(_env_file=None)
    settings.understanding.chat_encoder = "use-multilingual"
    lines = _lines(args.sample_dir)
    rss0 = _rss_mb()
    processor = ChatProcessor(settings, shared_chat_analysis({}, settings))
    rss_fast = _rss_mb()
    processor.load_models()
    processor.refine([processor.handle(_input(ChatMessage(room_id="r", event_id="w", stream_ms=0, user_id="u", text=t)),
                                       processor.load_state(None))[0].event for t in lines[:64]])  # warm
    rss_encoder = _rss_mb()
    results = [asyncio.run(_run(processor, lines, args.rate, args.seconds, refine, args.unique)) for refine in (False, True, False, True)]
    print(json.dumps({"distinct_lines": len(set(lines)), "rate": args.rate, "seconds": args.seconds, "batch": settings.understanding.chat_encoder_batch, "unique": args.unique,
                      "rss_mb": {"before": round(rss0), "fast_heads": round(rss_fast), "with_encoder": round(rss_encoder)},
                      "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "load_avg": open("/proc/loadavg").read().split()[:3], "runs": results}, indent=1))


if __name__ == "__main__":
    main()
