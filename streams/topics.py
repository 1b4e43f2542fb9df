"""Kafka topic names, in one place. Every topic is keyed by ``room_id``.

Names are ``{prefix}.{name}``; the prefix (``LIVELENS_TOPIC_PREFIX``) lets tests and benchmark
runs use fresh topics on a shared broker.
"""

from __future__ import annotations

from dataclasses import dataclass

#: name -> (direction, event kinds it carries, who writes it, who reads it)
TOPICS: dict[str, tuple[str, str, str]] = {
    # inputs (written by ingest / HTTP ingest)
    "audio": ("in", "audio, marker", "PCM16 16 kHz mono chunks of 200-500 ms"),
    "frames": ("in", "frame, marker", "downscaled JPEG frames at 1-2 fps"),
    "segments": ("in", "segment, marker", "references to rolling media segments in the segment store"),
    "chat": ("in", "chat, marker", "danmaku / chat messages"),
    "commerce": ("in", "commerce, marker", "orders, carts, viewers, likes, gifts, payment failures, stock"),
    # outputs (written by processors)
    "transcripts": ("out", "transcript", "host speech, partial and final segments"),
    "prosody": ("out", "prosody", "host voice energy, pitch, speaking rate per window"),
    "vision": ("out", "vision", "per-frame vision features"),
    "selling_points": ("out", "selling_point", "selling-point segments"),
    "chat_insights": ("out", "chat_insights", "per-message sentiment, emotion, intent; a room's batched per flush"),
    "chat_windows": ("out", "chat_window", "per-room chat aggregates"),
    "room_metrics": ("out", "room_metrics", "per-room chat and commerce metrics per tumbling window"),
    "fused": ("out", "fused_window", "attention-fused highlight windows"),
    "clips": ("out", "clip", "auto-cut clips for clip editors"),
    "alerts": ("out", "alert", "anomaly alerts for ops"),
    "compliance": ("out", "compliance", "advertising-law / platform-rule violations in host speech and chat"),
    "recommendations": ("out", "recommendation", "next-best actions for host and operators"),
    "dead_letters": ("out", "dead_letter", "malformed input with the reason"),
    "forecasts": ("out", "forecast", "per-room forecasts of orders, GMV and viewers at 5 / 15 / 45 min"),
    "room_activity": ("out", "promotion, retention", "promotions starting / ending; viewers joining / leaving around each selling point"),
}

INPUT_TOPICS = tuple(n for n, (d, _, _) in TOPICS.items() if d == "in")
OUTPUT_TOPICS = tuple(n for n, (d, _, _) in TOPICS.items() if d == "out")


@dataclass(frozen=True)
class TopicNames:
    prefix: str = "livelens"

    def __getattr__(self, name: str) -> str:  # topics.chat -> "livelens.chat"
        if name in TOPICS:
            return f"{self.prefix}.{name}"
        raise AttributeError(name)

    def full(self, name: str) -> str:
        if name not in TOPICS:
            raise KeyError(f"unknown topic {name!r}")
        return f"{self.prefix}.{name}"

    def short(self, full_name: str) -> str:
        """``"livelens.chat"`` -> ``"chat"`` (unchanged if it is not one of ours)."""
        head = f"{self.prefix}."
        return full_name[len(head):] if full_name.startswith(head) else full_name

    def all(self) -> list[str]:
        return [self.full(n) for n in TOPICS]
