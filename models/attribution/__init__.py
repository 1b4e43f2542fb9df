"""Selling-point and promotion attribution: the uplift in orders, carts and positive chat after
each explained class, against the room's baseline. Pure; state is JSON.

    model = UpliftAttribution.warm("room-1", category_prior_dict)
    model.observe_explanation(start_ms, end_ms, "fabric_material")
    model.observe_window(window_start_ms, 60_000, viewers=1200, orders=5, carts=12, positive_chat=40)
    model.table("orders")  # [Uplift(label, uplift, lo, hi, ...)], highest first
"""

from .model import OUTCOMES, AttributionConfig, Uplift, UpliftAttribution, category_prior

__all__ = ["OUTCOMES", "AttributionConfig", "Uplift", "UpliftAttribution", "category_prior"]
