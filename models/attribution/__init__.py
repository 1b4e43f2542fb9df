"""Selling-point and promotion attribution: the uplift in orders, carts and positive chat after
each explained class, against the room's baseline. Pure; state is JSON.

    model = UpliftAttribution.warm("room-1", category_prior_dict)
    model.observe_explanation(start_ms, end_ms, "fabric_material")
    model.observe_window(window_start_ms, 60_000, viewers=1200, orders=5, carts=12, positive_chat=40)
    model.table("orders")  # [Uplift(label, uplift, lo, hi, ...)], highest first

Per-category priors on disk (prior_store.py): ``CategoryPriorStore(dir).prior(category)`` warm-starts
a new room; ``add_room(category, model)`` folds a finished room in.
"""

from .model import OUTCOMES, AttributionConfig, Uplift, UpliftAttribution, category_prior
from .prior_store import CategoryPriorStore, PriorStoreError

__all__ = ["OUTCOMES", "AttributionConfig", "Uplift", "UpliftAttribution", "category_prior", "CategoryPriorStore", "PriorStoreError"]
