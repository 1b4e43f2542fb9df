"""GENERATED live-room sessions with KNOWN selling-point uplift, for the attribution and forecast
benchmarks and tests. Not recordings: no labelled live-commerce sessions exist here.

Per window (a minute by default) the room has viewers, orders, carts, GMV and chat. The hidden
dynamics:

- Viewers: a ramp-up over the first ~15 minutes, then a random walk in log space with a slow
  drift, occasional drops (a boring stretch) and the fade at the end.
- Products: segments of 8-25 minutes; each has a price and a stock.
- The host explains selling-point classes (the apparel taxonomy's names) at random moments, one
  to two minutes each, and runs promotions (coupon, lucky bag, flash price) now and then.
- Each class ``c`` has a TRUE log-uplift ``u_c`` for this room = the category's value (fixed by
  ``world_seed``, shared by all rooms) + room noise. An explanation exposes the room to its class
  with weight 1 while it lasts and exp(-minutes since it ended / ``decay_min``) afterwards.
- Orders ~ Poisson(conversion(t) x viewers x exp(sum_c u_c x exposure_c)), where conversion
  drifts slowly; carts and positive chat respond to the same exposure (carts with 1.2 u_c,
  positive chat with 0.8 u_c).
- Confounder (what a raw "orders after the explanation" count gets wrong): hosts explain some
  classes more when the room is busy (choice probability rises with the viewer level for some
  classes, falls for others), and busier rooms sell more regardless of what is explained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SELLING_POINT_CLASSES: tuple[str, ...] = (
    "fabric_material", "drape", "skin_feel", "fit_cut", "color_pattern", "size_guidance", "craftsmanship", "style_design",
)
PROMOTION_CLASSES: tuple[str, ...] = ("coupon", "lucky_bag", "flash_price")


@dataclass(frozen=True)
class LiveScenarioConfig:
    minutes: int = 180
    window_s: int = 60
    decay_min: float = 3.0
    explanation_rate_per_min: float = 0.35
    promotion_rate_per_min: float = 0.04
    room_noise: float = 0.12  # sd of the room's deviation from the category uplift
    confounding: float = 1.0  # strength of "explain this class when the room is busy"
    world_seed: int = 2026


@dataclass
class LiveSession:
    room_id: str
    windows: list[dict]
    explanations: list[dict]  # {start_ms, end_ms, label, kind, product}
    true_log_uplift: dict[str, float]  # per class, for orders
    products: list[dict] = field(default_factory=list)
    description: str = ""


def category_uplift(world_seed: int = 2026) -> dict[str, float]:
    """The category's true log-uplift per class (what the per-category prior should learn)."""
    world = np.random.default_rng(world_seed)
    classes = SELLING_POINT_CLASSES + PROMOTION_CLASSES
    values = world.uniform(-0.05, 0.55, size=len(classes))
    return {c: round(float(v), 4) for c, v in zip(classes, values)}


def generate_live_session(seed: int, config: LiveScenarioConfig | None = None, room_id: str | None = None) -> LiveSession:
    config = config or LiveScenarioConfig()
    rng = np.random.default_rng(seed)
    prior = category_uplift(config.world_seed)
    classes = list(prior)
    truth = {c: round(prior[c] + float(rng.normal(0, config.room_noise)), 4) for c in classes}
    busy_affinity = {c: float(rng.uniform(-1, 1)) * config.confounding for c in classes}

    window_ms = config.window_s * 1000
    steps = int(config.minutes * 60 / config.window_s)
    minutes_per_step = config.window_s / 60
    peak_viewers = float(np.exp(rng.uniform(math.log(300), math.log(20_000))))
    conversion = float(np.exp(rng.uniform(math.log(2e-4), math.log(2e-3))))  # orders per viewer-minute
    log_level, drift = 0.0, float(rng.normal(0, 0.002))
    explanations: list[dict] = []
    products: list[dict] = []
    windows: list[dict] = []
    product_left = 0.0
    product: dict = {}
    busy_until_ms = -1
    conv_log = 0.0
    for t in range(steps):
        start_ms = t * window_ms
        minute = t * minutes_per_step
        if product_left <= 0:
            product = {"product": f"p{len(products) + 1}", "price": float(rng.choice([59, 89, 129, 199, 299])),
                       "stock": int(rng.integers(80, 600)), "start_ms": start_ms}
            products.append(product)
            product_left = float(rng.uniform(8, 25))
        product_left -= minutes_per_step
        # viewers: ramp-up, random walk, rare drops, fade-out in the last 10 minutes
        log_level += drift * minutes_per_step + rng.normal(0, 0.03 * math.sqrt(minutes_per_step))
        if rng.random() < 0.01 * minutes_per_step:
            log_level -= rng.uniform(0.2, 0.5)
        log_level = min(log_level, 0.6)
        ramp = min(1.0, 0.15 + minute / 15)
        fade = min(1.0, max(0.2, (config.minutes - minute) / 10))
        viewers = max(20.0, peak_viewers * math.exp(log_level) * ramp * fade * math.exp(rng.normal(0, 0.02)))
        busy = math.log(viewers / peak_viewers)  # ~0 when busy, negative when quiet
        # the host's actions in this window (at most one starts per window)
        if start_ms >= busy_until_ms:
            kind = None
            if rng.random() < config.promotion_rate_per_min * minutes_per_step:
                kind, pool = "promotion", PROMOTION_CLASSES
            elif rng.random() < config.explanation_rate_per_min * minutes_per_step:
                kind, pool = "selling_point", SELLING_POINT_CLASSES
            if kind is not None:
                weights = np.array([math.exp(busy_affinity[c] * (busy + 0.7)) for c in pool])
                label = str(rng.choice(pool, p=weights / weights.sum()))
                length_ms = int(rng.uniform(60, 120) * 1000)
                offset_ms = int(rng.uniform(0, window_ms))
                explanations.append({"start_ms": start_ms + offset_ms, "end_ms": start_ms + offset_ms + length_ms, "label": label,
                                     "kind": kind, "product": product["product"]})
                busy_until_ms = start_ms + offset_ms + length_ms
        mid = start_ms + window_ms / 2
        log_effect = 0.0
        for e in explanations[-12:]:
            if e["start_ms"] <= mid:
                exposure = 1.0 if mid <= e["end_ms"] else math.exp(-(mid - e["end_ms"]) / 60_000 / config.decay_min)
                log_effect += truth[e["label"]] * exposure
        conv_log += rng.normal(0, 0.01 * math.sqrt(minutes_per_step))
        rate = conversion * math.exp(conv_log) * viewers * minutes_per_step
        orders = int(rng.poisson(rate * math.exp(log_effect)))
        carts = int(rng.poisson(2.5 * rate * math.exp(1.2 * log_effect)))
        messages = int(rng.poisson(viewers * 0.004 * minutes_per_step * 60 * (1 + 0.3 * max(log_effect, 0))))
        positive_share = min(0.9, 0.3 * math.exp(0.8 * log_effect))
        positive = int(rng.binomial(messages, positive_share)) if messages else 0
        sold = min(orders, product["stock"])
        product["stock"] -= sold
        windows.append({
            "window_start_ms": start_ms, "window_ms": window_ms, "viewers": int(viewers),
            "orders": orders, "orders_per_min": round(orders / minutes_per_step, 3), "carts": carts,
            "gmv": round(orders * product["price"], 2), "messages": messages, "positive_chat": positive,
            "product": product["product"], "stock": product["stock"],
        })
    description = (f"generated live session (seed {seed}): {config.minutes} min, peak ~{int(peak_viewers)} viewers, "
                   f"{len(explanations)} explanations, {len(products)} products")
    return LiveSession(room_id or f"live-{seed}", windows, explanations, truth, products, description)
