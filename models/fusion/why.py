"""The host's "why" of a fused window: which modalities move the orders forecast, in zh and en.

``influence`` is ``FusionOutput.influence`` (per present modality, log(forecast with it ÷ forecast
with it hidden)); the text names the modalities that move it most, as a percentage:

    why_text({"transcript": 0.17, "chat": 0.07, "vision": -0.01}, "zh") == "讲解 +19%，弹幕 +7%"
    why_text({"transcript": 0.17, "chat": 0.07, "vision": -0.01}, "en") == "pitch +19%, chat +7%"
"""

from __future__ import annotations

import math
from typing import Mapping

MODALITY_NAMES: dict[str, dict[str, str]] = {
    "zh": {"transcript": "讲解", "prosody": "语气", "vision": "画面", "chat": "弹幕", "commerce": "成交"},
    "en": {"transcript": "pitch", "prosody": "voice", "vision": "picture", "chat": "chat", "commerce": "sales"},
}
SEPARATOR = {"zh": "，", "en": ", "}


def why_text(influence: Mapping[str, float], lang: str = "zh", top: int = 2, min_percent: float = 1.0) -> str:
    """The ``top`` modalities by |influence| that move the forecast at least ``min_percent`` %;
    "" when none does (or the language is unknown: then English)."""
    names = MODALITY_NAMES.get(lang, MODALITY_NAMES["en"])
    ranked = sorted(((m, v) for m, v in influence.items() if math.isfinite(v)), key=lambda kv: -abs(kv[1]))
    parts = []
    for modality, value in ranked[:top]:
        percent = math.expm1(value) * 100.0
        if abs(percent) >= min_percent:
            parts.append(f"{names.get(modality, modality)} {percent:+.0f}%")
    return SEPARATOR.get(lang, ", ").join(parts)
