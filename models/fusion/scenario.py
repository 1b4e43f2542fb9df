"""GENERATED live-commerce sessions with known dynamics, for tests and the fusion benchmark.

These are not recordings: no labelled live-commerce sessions exist here (../shared/data has none).
They are sampled from a hand-written model of a room, in the raw window-dict format that recorded
sessions use (models/fusion/features.py), so everything downstream runs unchanged on real data.

The dynamics (per window of ``window_ms``, default 4 s):

- The host moves through phases by a Markov chain: ``idle`` (small talk) -> ``intro`` (product
  shown) -> ``pitch`` (selling points named) -> ``deal`` (price / promotion) -> back.
- Transcript: selling-point confidence by phase (false positives while idle), a label per product,
  and a 512-d "sentence embedding" = a fixed random direction per phase + noise.
- Voice: energy (dB), pitch, speaking rate rise in pitch/deal; per-room host loudness differs.
- Vision: four frames per window; face present most of the time; the product close-up cue is high
  while a product is held up (intro/pitch/deal, with some probability), low otherwise.
- A latent purchase DRIVE per window = 0.9·selling-point + 0.8·closeup·[selling] + 0.35·energy z
  + 0.6·[deal] + 0.25·chat positivity, plus noise.
- Chat reacts to the drive in the same window (rate, positive share, purchase intent).
- Orders and carts in window t+1 ~ Poisson(base · viewers factor · exp(0.7·(drive_t − c) +
  0.3·(drive_{t−1} − c))): a lagged response. Each room has its own base rate and audience.
- Missing modalities: each modality is dropped per window with ``missing_rate``, and ASR/vision
  outages of 5-30 windows happen at random. The ``outcome`` (true orders/carts) is always recorded,
  even when the commerce feed (the modality) is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.fusion.features import DEFAULT_CHAT_INTENTS, DEFAULT_SELLING_POINT_LABELS
from models.fusion.learner import RecordedSession

PHASES = ("idle", "intro", "pitch", "deal")
_TRANSITIONS = np.array(
    [
        [0.80, 0.20, 0.00, 0.00],  # idle
        [0.05, 0.55, 0.40, 0.00],  # intro
        [0.05, 0.00, 0.70, 0.25],  # pitch
        [0.35, 0.10, 0.10, 0.45],  # deal
    ]
)
_SELLING_CONFIDENCE = {"idle": (0.0, 0.25), "intro": (0.3, 0.6), "pitch": (0.6, 0.95), "deal": (0.55, 0.9)}
_CLOSEUP_PROBABILITY = {"idle": 0.05, "intro": 0.6, "pitch": 0.7, "deal": 0.5}
_ENERGY_BOOST_DB = {"idle": 0.0, "intro": 1.5, "pitch": 3.5, "deal": 5.0}
DRIVE_CENTRE = 0.6


@dataclass
class ScenarioConfig:
    windows: int = 300
    window_ms: int = 4_000
    embedding_dim: int = 512
    missing_rate: float = 0.1
    outage_rate: float = 0.01  # per window, for ASR and vision each
    frames_per_window: int = 4
    #: the "world" seed fixes the phase embedding directions shared by all sessions
    world_seed: int = 1234


def generate_session(seed: int, config: ScenarioConfig | None = None, room_id: str | None = None) -> RecordedSession:
    config = config or ScenarioConfig()
    rng = np.random.default_rng(seed)
    world = np.random.default_rng(config.world_seed)
    phase_directions = world.normal(size=(len(PHASES), config.embedding_dim))
    phase_directions /= np.linalg.norm(phase_directions, axis=1, keepdims=True)

    base_orders = float(np.exp(rng.uniform(math.log(0.5), math.log(8.0))))  # orders per window
    viewers = float(np.exp(rng.uniform(math.log(300), math.log(20_000))))
    host_energy_db = rng.uniform(-30, -16)
    host_pitch = rng.uniform(110, 260)
    chat_base_rate = rng.uniform(0.3, 4.0)  # messages per second
    product_label = rng.choice(DEFAULT_SELLING_POINT_LABELS[:8])
    outage = {"transcript": 0, "vision": 0}

    phase = 0
    drives: list[float] = [DRIVE_CENTRE, DRIVE_CENTRE]
    orders_now = int(rng.poisson(base_orders))
    carts_now = int(rng.poisson(2.5 * base_orders))
    windows: list[dict] = []
    seconds = config.window_ms / 1000
    for t in range(config.windows):
        phase = int(rng.choice(len(PHASES), p=_TRANSITIONS[phase]))
        name = PHASES[phase]
        if name == "intro" and rng.random() < 0.3:
            product_label = rng.choice(DEFAULT_SELLING_POINT_LABELS[:8])
        low, high = _SELLING_CONFIDENCE[name]
        selling = float(rng.uniform(low, high)) if (name != "idle" or rng.random() < 0.2) else 0.0
        label = "price" if name == "deal" else str(product_label)
        energy_z = (_ENERGY_BOOST_DB[name] + rng.normal(0, 1.5)) / 2.5
        holding = rng.random() < _CLOSEUP_PROBABILITY[name]
        closeup = float(np.clip(rng.uniform(0.35, 0.9) if holding else rng.uniform(0.0, 0.15), 0, 1))
        chat_positive = float(np.clip(rng.normal(0.2, 0.3), -1, 1))
        drive = (
            0.9 * selling + 0.8 * closeup * (selling > 0.3) + 0.35 * energy_z
            + 0.6 * (name == "deal") + 0.25 * chat_positive + rng.normal(0, 0.15)
        )
        drives.append(drive)

        # --- what the pipeline would observe in this window ---
        embedding = phase_directions[phase] * 3.0 + rng.normal(size=config.embedding_dim)
        embedding /= np.linalg.norm(embedding)
        transcript = {
            "embedding": [round(float(v), 4) for v in embedding],
            "selling_points": [{"label": label, "confidence": round(selling, 3)}] if selling > 0 else [],
            "words": int(rng.poisson(seconds * (2.5 + 0.6 * energy_z))),
        }
        prosody = {
            "energy_db": host_energy_db + _ENERGY_BOOST_DB[name] + rng.normal(0, 1.5),
            "pitch_hz": host_pitch * (1 + 0.05 * energy_z) + rng.normal(0, 8),
            "pitch_std_hz": abs(rng.normal(20 + 6 * energy_z, 5)),
            "speaking_rate": max(0.5, 3.5 + 0.5 * energy_z + rng.normal(0, 0.4)),
            "voiced_ratio": float(np.clip(rng.normal(0.65, 0.1), 0, 1)),
        }
        frames = []
        for _ in range(config.frames_per_window):
            frames.append(
                {
                    "faces": int(rng.random() < 0.9),
                    "motion": float(abs(rng.normal(0.01 + 0.01 * holding, 0.004))),
                    "closeup": float(np.clip(closeup + rng.normal(0, 0.08), 0, 1)),
                    "scene_cut": bool(rng.random() < 0.01),
                    "black": False,
                    "frozen": False,
                }
            )
        chat_rate = chat_base_rate * math.exp(0.5 * (drive - DRIVE_CENTRE) + rng.normal(0, 0.2))
        messages = int(rng.poisson(chat_rate * seconds))
        positive = float(np.clip(0.35 + 0.25 * chat_positive + 0.15 * (drive - DRIVE_CENTRE), 0.02, 0.95))
        negative = float(np.clip(0.15 - 0.1 * chat_positive, 0.01, 0.6))
        purchase_share = float(np.clip(0.1 + 0.15 * (drive - DRIVE_CENTRE), 0, 0.8))
        intents = {intent: 0 for intent in DEFAULT_CHAT_INTENTS}
        for _ in range(messages):
            pick = "purchase" if rng.random() < purchase_share else str(rng.choice(DEFAULT_CHAT_INTENTS[1:]))
            intents[pick] += 1
        chat = {
            "messages": messages,
            "sentiment_mix": {"positive": positive, "neutral": max(0.0, 1 - positive - negative), "negative": negative},
            "intent_counts": {k: v for k, v in intents.items() if v},
        }
        viewers = max(50.0, viewers * math.exp(rng.normal(0.01 * (drive - DRIVE_CENTRE), 0.03)))
        commerce = {"orders": orders_now, "carts": carts_now, "likes": int(rng.poisson(viewers * 0.01 * (1 + max(drive, 0)))), "viewers": int(viewers)}

        raw: dict = {
            "start_ms": t * config.window_ms,
            "end_ms": (t + 1) * config.window_ms,
            "transcript": transcript,
            "prosody": prosody,
            "vision": {"frames": frames},
            "chat": chat if messages else None,
            "commerce": commerce,
            "outcome": {"orders": orders_now, "carts": carts_now},
            "truth": {"phase": name, "drive": round(drive, 4)},
        }
        for modality in ("transcript", "vision"):
            if outage[modality] > 0:
                outage[modality] -= 1
                raw[modality] = None
            elif rng.random() < config.outage_rate:
                outage[modality] = int(rng.integers(5, 31))
        for modality in ("transcript", "prosody", "vision", "chat", "commerce"):
            if rng.random() < config.missing_rate:
                raw[modality] = None
        windows.append(raw)

        # --- the room's response in the NEXT window (lagged) ---
        audience = (viewers / 2000.0) ** 0.3
        log_multiplier = 0.7 * (drives[-1] - DRIVE_CENTRE) + 0.3 * (drives[-2] - DRIVE_CENTRE)
        next_rate = base_orders * audience * math.exp(log_multiplier)
        raw["truth"]["next_orders_rate"] = round(next_rate, 4)  # what an oracle would forecast
        orders_now = int(rng.poisson(next_rate))
        carts_now = int(rng.poisson(2.5 * base_orders * audience * math.exp(1.1 * log_multiplier)))

    description = (
        f"generated session (seed {seed}): base {base_orders:.2f} orders/window, ~{int(viewers)} viewers, "
        f"{config.windows} windows of {config.window_ms} ms, missing rate {config.missing_rate}"
    )
    return RecordedSession(room_id or f"generated-{seed}", windows, description)


def generate_sessions(count: int, first_seed: int = 0, config: ScenarioConfig | None = None) -> list[RecordedSession]:
    return [generate_session(first_seed + i, config) for i in range(count)]
