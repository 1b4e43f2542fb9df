"""Does biasing Whisper towards the room's words help? CER of the Chinese sample room, offline
(VAD-bounded utterances through the session, as ``livelens transcribe``), with no biasing, an
initial prompt, hotwords (faster-whisper's hint phrases) and both.

    .venv/bin/python scripts/bench_asr_bias.py [--room var/sample_room/zh] [--hotwords "桑蚕丝 连衣裙 …"]

Prints one line per variant with its CER and wall time (numbers normalised, as every ASR bench).
The streaming figures, with the room's catalog as hints and term recall, come from
``livelens bench asr --sample-room var/sample_room/zh --sample-room-only --bias none,hotwords,prompt,both``.
"""

from __future__ import annotations

import argparse
import time

from livelens.bench.asr import sample_room_error
from models.asr import AsrEngine, load_media
from models.asr.engine import DecodeOptions
from models.asr.offline import transcribe_offline

PROMPT = "以下是直播间主播介绍商品的普通话。"
#: the sample room's product words an operator would list (product name, fabric, sizes, prices)
HOTWORDS = "桑蚕丝 连衣裙 姆米 尺码 中码 亲肤 吊牌价 优惠券 库存 发货 小黄车"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--room", default="var/sample_room/zh")
    ap.add_argument("--hotwords", default=HOTWORDS)
    args = ap.parse_args()
    audio = load_media(f"{args.room}/room.mp4")
    engine = AsrEngine("base", model_dir="var/models", cpu_threads=2)
    variants = {"none": DecodeOptions(), "prompt": DecodeOptions(initial_prompt=PROMPT),
                "hotwords": DecodeOptions(hotwords=args.hotwords),
                "both": DecodeOptions(initial_prompt=PROMPT, hotwords=args.hotwords)}
    for name, options in variants.items():
        started = time.perf_counter()
        finals, _session = transcribe_offline(engine, audio, "zh", options=options)
        cer = sample_room_error(args.room, "".join(f.text for f in finals))
        print(f"{name:9s} CER {cer:.3f}  {time.perf_counter() - started:.1f} s", flush=True)
    print(f"command: .venv/bin/python scripts/bench_asr_bias.py --room {args.room}")


if __name__ == "__main__":
    main()
