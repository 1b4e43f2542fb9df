"""Streaming speech recognition (pure: numpy in, dataclasses out).

- ``AsrEngine``: a faster-whisper model loaded once per worker, shared by rooms (thread-safe).
- ``StreamingAsrSession``: one room's incremental recogniser (insert_audio_chunk /
  process_iter / finish) returning ``AsrUpdate`` with partial and final ``Segment`` objects.
- ``assemble_whisper_base`` / ``resolve_model``: offline packaged models.
- ``to_mono_16k`` / ``decode_chunk``: input conversion and checks (``BadAudio``).
"""

from models.asr.audio import SAMPLE_RATE, BadAudio, check_chunk, decode_chunk, load_media, pcm16_to_float, to_mono_16k
from models.asr.engine import AsrEngine, DecodeOptions, DecodeResult
from models.asr.models import ModelNotAvailable, assemble_whisper_base, resolve_model
from models.asr.session import AsrSessionConfig, AsrUpdate, IncrementalModel, Segment, SessionStats, StreamingAsrSession

__all__ = [
    "SAMPLE_RATE", "BadAudio", "check_chunk", "decode_chunk", "load_media", "pcm16_to_float", "to_mono_16k",
    "AsrEngine", "DecodeOptions", "DecodeResult", "ModelNotAvailable", "assemble_whisper_base", "resolve_model",
    "AsrSessionConfig", "AsrUpdate", "IncrementalModel", "Segment", "SessionStats", "StreamingAsrSession",
]
