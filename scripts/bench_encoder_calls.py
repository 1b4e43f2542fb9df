"""What one call of the sentence encoder costs, by call size and precision, and what handing chat
to the encoder's child process costs the worker.

    PYTHONPATH=. .venv/bin/python scripts/bench_encoder_calls.py [--calls 300] [--handoff-seconds 10]

1. USE-multilingual ``encode`` in calls of 1–64 texts (the sample rooms' chat lines and script
   sentences, each made distinct), float32 (the package's numpy forward) vs bfloat16
   (models/understanding/use_bf16.py): CPU ms a call. A call has a fixed cost (every weight
   matrix is read once), so bigger calls cost less a message.
2. The hand-off: 800 chat messages/s in 20 ms batches to ``ChatRefinerProcess`` (as the chat
   processor's prefetch does at 50 rooms): the worker-side CPU (this process, not the child)
   with and without the child.
Run on a quiet machine; the figures are CPU time, but a busy host still slows them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _texts() -> dict[str, list[str]]:
    rooms = ROOT / "var" / "sample_room"
    if not (rooms / "zh" / "chat.jsonl").is_file():
        raise SystemExit("error: no sample room under var/sample_room (run: livelens sample-room)")
    chat = [json.loads(x)["text"] for lang in ("zh", "en")
            for x in (rooms / lang / "chat.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    script = [s["text"] for lang in ("zh", "en")
              for s in json.loads((rooms / lang / "script.json").read_text(encoding="utf-8"))["sentences"]]
    return {"chat": chat, "script": script}


def call_costs(calls: int) -> None:
    from models.understanding.encoders import UseMultilingualEncoder

    encoders = {p: UseMultilingualEncoder(precision=p) for p in ("float32", "bfloat16")}
    rng = random.Random(0)
    print("texts   per call  float32 ms/call  bfloat16 ms/call")
    for kind, pool in _texts().items():
        for size in (1, 4, 16, 64):
            groups = [[f"{rng.choice(pool)} {i}-{j}" for j in range(size)] for i in range(calls)]
            row = []
            for enc in encoders.values():
                enc.encode(groups[0])
                start = time.process_time()
                for group in groups:
                    enc.encode(group)
                row.append((time.process_time() - start) * 1000 / calls)
            print(f"{kind:7} {size:8}  {row[0]:15.2f}  {row[1]:16.2f}")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # this process only: the child is not counted
    return usage.ru_utime + usage.ru_stime


async def handoff_cost(seconds: float, with_child: bool) -> str:
    from processors.chat_refiner import ChatRefinerProcess

    lines = _texts()["chat"]
    refiner = ChatRefinerProcess("use-multilingual", nice=10)
    if with_child:
        await asyncio.to_thread(refiner.start)
    rate, batch_s = 800, 0.02
    per_batch = int(rate * batch_s)
    sent, calls = 0, []
    start, cpu0 = time.monotonic(), _cpu_s()
    while time.monotonic() - start < seconds:
        texts = [f"{random.choice(lines)} {sent + i}" for i in range(per_batch)]
        sent += per_batch
        if with_child:
            calls.append(asyncio.ensure_future(refiner.analyze(texts, time.monotonic() + 0.1)))
        await asyncio.sleep(batch_s)
    refined = sum(len(r) for r in await asyncio.gather(*calls))
    wall, cpu = time.monotonic() - start, _cpu_s() - cpu0
    refiner.close()
    return (f"{'with' if with_child else 'without'} the child: worker CPU {100 * cpu / wall:.1f} % of a core, "
            f"{1000 * cpu / sent:.3f} ms a message, refined {refined} of {sent}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--handoff-seconds", type=float, default=10.0)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    call_costs(args.calls)
    for with_child in (False, True):
        print(asyncio.run(handoff_cost(args.handoff_seconds, with_child)))


if __name__ == "__main__":
    main()
