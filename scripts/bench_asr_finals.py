"""Where do the streaming errors come from? The finals a session gives (VAD-bounded utterances,
decoded through ``transcribe_offline``: the same finals as live when the session is not degraded,
without waiting for real time) against faster-whisper's whole-file decode, per file and per set.

    .venv/bin/python scripts/bench_asr_finals.py [--sets en,zh,var/sample_room/en,var/sample_room/zh]
        [--config '{"end_silence_ms": 500, "final_encoder_context": "fit"}'] [--fit-min-frames 1000] [-v]

``--config``: AsrSessionConfig fields over the worker's settings (LIVELENS_ASR__* apply too);
``-v`` prints each final with its times next to the reference and the whole-file text.
Errors: WER (en) / CER (zh), numbers normalised, as in ``livelens bench asr``; "ratio" = finals /
whole file. A few seconds a set on 2 cores: for sweeping session settings before a real-time
``livelens bench asr`` run (which adds partials, speculative finals and degradation).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from livelens.bench.asr import (DEFAULT_DATA, _default_model, _files, _sample_room_files, _session_config,
                                sample_room_reference)
from models.asr import AsrEngine, load_media
from models.asr.metrics import cer, wer
from models.asr.offline import transcribe_offline


def _sets(names: list[str]) -> list[tuple[str, str, list]]:
    out = []
    for name in names:
        if name in ("en", "zh"):
            out.append((name, name, _files(DEFAULT_DATA / name)))
        else:
            language, _ = sample_room_reference(Path(name))
            out.append((name, language, _sample_room_files(Path(name))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="en,zh,var/sample_room/en,var/sample_room/zh")
    ap.add_argument("--config", default="{}", help="AsrSessionConfig fields (JSON) over the settings'")
    ap.add_argument("--fit-min-frames", type=int, default=None,
                    help="the fitted encoder context's minimum (mel frames, 100 a second; default 1000)")
    ap.add_argument("-v", action="store_true", help="print each final")
    args = ap.parse_args()
    if args.fit_min_frames:
        import models.asr.engine as engine_module

        engine_module.FIT_MIN_FRAMES = args.fit_min_frames
    config = dataclasses.replace(_session_config("vad"), **json.loads(args.config))
    print(f"session: end_silence_ms={config.end_silence_ms} final_encoder_context={config.final_encoder_context} "
          f"max_utterance_s={config.max_utterance_s} lead_in_ms={config.lead_in_ms}")
    for name, language, files in _sets([s for s in args.sets.split(",") if s]):
        engine = AsrEngine(_default_model(language))
        score, joiner = (wer, " ") if language == "en" else (cer, "")
        refs, wholes, streams, compute, audio_s, started = [], [], [], 0.0, 0.0, time.perf_counter()
        for stem, path, ref in files:
            audio = load_media(str(path))
            whole = engine.decode(audio, language, dataclasses.replace(engine.options, encoder_context="full")).text
            finals, session = transcribe_offline(engine, audio, language, config)
            text = joiner.join(f.text for f in finals)
            compute, audio_s = compute + session.stats.compute_s, audio_s + len(audio) / 16000
            refs.append(ref), wholes.append(whole), streams.append(text)
            print(f"  {stem}: finals {score(ref, text):.3f} whole file {score(ref, whole):.3f} ({len(finals)} finals)")
            if args.v:
                print(f"    reference  {ref}\n    whole file {whole}")
                for f in finals:
                    print(f"    [{f.start_ms / 1000:6.2f}-{f.end_ms / 1000:6.2f}] {f.text}")
        ref = joiner.join(refs)
        fin, off = score(ref, joiner.join(streams)), score(ref, joiner.join(wholes))
        ratio = fin / off if off else float("nan")
        print(f"{name} ({language}): finals {fin:.3f} whole file {off:.3f} ratio {ratio:.2f}; finals' compute/audio "
              f"{compute / max(audio_s, 1e-9):.3f} ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
