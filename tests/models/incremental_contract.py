"""Shared contract for incremental audio models (insert_audio_chunk / process_iter / finish).

Every implementation in models/ with this shape passes ``check_incremental_model`` (river's
check_estimator idea): call it from the model's own test module with a factory.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

SR = 16_000


def check_incremental_model(factory: Callable[[], object], speech: np.ndarray, chunk_ms: int = 250) -> None:
    # 1. finish on a fresh model works and yields nothing
    model = factory()
    assert not _items(model.finish())

    # 2. chunked feeding: process_iter after every chunk, finish at the end; outputs are
    #    ordered in stream time and lie inside the audio
    model = factory()
    step = chunk_ms * SR // 1000
    outputs = []
    for i in range(0, len(speech), step):
        model.insert_audio_chunk(speech[i : i + step], i * 1000 // SR)
        outputs.extend(_items(model.process_iter()))
    outputs.extend(_items(model.finish()))
    assert outputs, "speech produced no output"
    duration_ms = len(speech) * 1000 // SR
    for item in outputs:
        assert 0 <= item.start_ms <= item.end_ms <= duration_ms + chunk_ms

    # 3. a duplicate and an out-of-order chunk do not raise and do not add output of their own
    model = factory()
    model.insert_audio_chunk(speech[:step], 0)
    model.insert_audio_chunk(speech[step : 2 * step], chunk_ms)
    model.insert_audio_chunk(speech[:step], 0)  # duplicate
    model.process_iter()
    model.finish()


def _items(result) -> list:
    if isinstance(result, list):
        return result
    return list(result.partials) + list(result.finals)
