"""The attention fusion module (torch).

Each present modality vector goes through its own small encoder (Linear -> GELU -> Linear) to a
``d_model`` token, plus a learned modality embedding. ``interaction_layers`` pre-norm transformer
encoder layers let the tokens see each other (a close-up matters when a selling point is named),
with the same key padding mask. Then one learned query attends over the tokens
(multi-head attention, ``key_padding_mask`` hides the missing modalities, so a missing modality
gets attention weight exactly 0 and its placeholder values cannot reach the output). The attended
context feeds three heads:

- ``highlight``: sigmoid, in [0, 1] -- trained towards ``highlight_target`` (how far the next
  window's orders and carts beat the room's normal);
- ``orders`` / ``carts``: the Poisson rate for the NEXT window, ``base × exp(head)``, where
  ``base`` is the room's running mean per window (``WindowFeatures.base_orders``), so one model
  serves rooms of any size. Always ≥ 0.

``pooling="mean"`` replaces the attention (and the interaction layers) with the plain mean of the
present tokens' projections (the no-attention baseline of the benchmark); ``modalities=("chat",)`` builds a single-modality model.
A window where none of the model's modalities is present gets a learned default (zero context).
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch
from torch import nn

from models.fusion.features import MODALITIES, FusionDims, WindowFeatures

MAX_LOG_MULTIPLIER = 4.0  # forecasts stay within e^±4 of the room's base rate


class FusionNet(nn.Module):
    def __init__(
        self,
        dims: FusionDims | None = None,
        d_model: int = 32,
        heads: int = 2,
        modalities: Sequence[str] = MODALITIES,
        pooling: Literal["attention", "mean"] = "attention",
        seed: int = 0,
        interaction_layers: int = 1,
    ) -> None:
        super().__init__()
        self.dims = dims or FusionDims()
        self.modalities = tuple(m for m in MODALITIES if m in modalities)
        self.pooling = pooling
        self.d_model = d_model
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # same seed -> same initial weights, whatever ran before
            self.encoders = nn.ModuleDict(
                {
                    m: nn.Sequential(nn.Linear(self.dims.of(m), d_model), nn.GELU(), nn.Linear(d_model, d_model))
                    for m in self.modalities
                }
            )
            self.modality_embedding = nn.Parameter(torch.randn(len(self.modalities), d_model) * 0.02)
            self.query = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
            # tokens see each other first (closeup matters when a selling point is named), then the
            # query pools them; masked tokens are never keys or values, and are not pooled
            self.interaction = nn.ModuleList(
                nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model, dropout=0.0, batch_first=True, norm_first=True)
                for _ in range(interaction_layers if pooling == "attention" else 0)
            )
            self.attention = nn.MultiheadAttention(d_model, heads, batch_first=True)
            self.norm = nn.LayerNorm(d_model)
            self.trunk = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU())
            self.highlight_head = nn.Linear(d_model, 1)
            self.rate_head = nn.Linear(d_model, 2)  # log multipliers of the orders and carts base rates
            nn.init.zeros_(self.rate_head.weight)
            nn.init.zeros_(self.rate_head.bias)  # untrained: forecast = the room's base rate

    def config(self) -> dict:
        return {"d_model": self.d_model, "heads": self.attention.num_heads, "modalities": list(self.modalities), "pooling": self.pooling, "interaction_layers": len(self.interaction)}

    def forward(
        self,
        inputs: dict[str, torch.Tensor],
        present: torch.Tensor,
        base_orders: torch.Tensor,
        base_carts: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """inputs[m]: (B, dim_m) (placeholder rows where missing); present: (B, M) bool over
        ``self.modalities``; bases: (B,). Returns highlight (B,), log_orders / log_carts (B,) (log
        Poisson rates), orders / carts (B,) rates, attention (B, M)."""
        batch = present.shape[0]
        tokens = torch.stack([self.encoders[m](inputs[m]) for m in self.modalities], dim=1)
        tokens = tokens + self.modality_embedding.unsqueeze(0)
        any_present = present.any(dim=1)
        # rows with nothing present: unmask one slot so softmax stays finite, then drop the context
        safe_present = present.clone()
        safe_present[~any_present, 0] = True
        for layer in self.interaction:
            tokens = layer(tokens, src_key_padding_mask=~safe_present)
        if self.pooling == "attention":
            query = self.query.expand(batch, 1, self.d_model)
            context, weights = self.attention(query, tokens, tokens, key_padding_mask=~safe_present, need_weights=True)
            context, weights = context[:, 0], weights[:, 0]
        else:
            weights = safe_present.float() / safe_present.float().sum(dim=1, keepdim=True)
            context = torch.einsum("bm,bmd->bd", weights, tokens)
        mask_rows = any_present.float().unsqueeze(1)
        context = context * mask_rows
        weights = weights * mask_rows
        hidden = self.trunk(self.norm(context))
        log_multiplier = self.rate_head(hidden).clamp(-MAX_LOG_MULTIPLIER, MAX_LOG_MULTIPLIER)
        log_orders = torch.log(base_orders) + log_multiplier[:, 0]
        log_carts = torch.log(base_carts) + log_multiplier[:, 1]
        return {
            "highlight": torch.sigmoid(self.highlight_head(hidden)[:, 0]),
            "log_orders": log_orders,
            "log_carts": log_carts,
            "orders": torch.exp(log_orders),
            "carts": torch.exp(log_carts),
            "attention": weights,
        }


def collate(windows: Sequence[WindowFeatures], dims: FusionDims, modalities: Sequence[str] = MODALITIES) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
    """WindowFeatures -> model inputs. Missing modalities get zero PLACEHOLDER rows and present=False."""
    inputs: dict[str, torch.Tensor] = {}
    present = torch.zeros(len(windows), len(modalities), dtype=torch.bool)
    for j, m in enumerate(modalities):
        rows = np.zeros((len(windows), dims.of(m)), dtype=np.float32)
        for i, window in enumerate(windows):
            vector = window.vector(m)
            if vector is not None:
                if vector.shape != (dims.of(m),):
                    raise ValueError(f"{m} vector has shape {vector.shape}, expected ({dims.of(m)},)")
                if np.all(np.isfinite(vector)):
                    rows[i] = vector
                    present[i, j] = True
        inputs[m] = torch.from_numpy(rows)
    base_orders = torch.tensor([w.base_orders for w in windows], dtype=torch.float32)
    base_carts = torch.tensor([w.base_carts for w in windows], dtype=torch.float32)
    return inputs, present, base_orders, base_carts


def highlight_target(next_orders: torch.Tensor, next_carts: torch.Tensor, base_orders: torch.Tensor, base_carts: torch.Tensor) -> torch.Tensor:
    """How far the next window beats the room's normal, in [0, 1]: sigmoid(z_orders + 0.5 z_carts)
    with Poisson-scaled z = (y - base) / sqrt(base + 0.25). 0.5 = an ordinary window."""
    z_orders = (next_orders - base_orders) / torch.sqrt(base_orders + 0.25)
    z_carts = (next_carts - base_carts) / torch.sqrt(base_carts + 0.25)
    return torch.sigmoid(z_orders + 0.5 * z_carts)


def fusion_loss(outputs: dict[str, torch.Tensor], next_orders: torch.Tensor, next_carts: torch.Tensor, base_orders: torch.Tensor, base_carts: torch.Tensor) -> torch.Tensor:
    """Poisson NLL on next-window orders (+0.5 × carts) + 0.5 × BCE of the highlight target."""
    orders_nll = torch.nn.functional.poisson_nll_loss(outputs["log_orders"], next_orders, log_input=True, full=False)
    carts_nll = torch.nn.functional.poisson_nll_loss(outputs["log_carts"], next_carts, log_input=True, full=False)
    target = highlight_target(next_orders, next_carts, base_orders, base_carts)
    highlight_bce = torch.nn.functional.binary_cross_entropy(outputs["highlight"].clamp(1e-6, 1 - 1e-6), target)
    return orders_nll + 0.5 * carts_nll + 0.5 * highlight_bce


def poisson_deviance(rate: np.ndarray, observed: np.ndarray) -> float:
    """Mean Poisson deviance (0 for a perfect forecast), the benchmark's main error."""
    rate = np.maximum(rate, 1e-9)
    term = np.where(observed > 0, observed * np.log(np.maximum(observed, 1e-9) / rate), 0.0)
    return float(np.mean(2.0 * (term - (observed - rate))))


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


__all__ = ["FusionNet", "collate", "fusion_loss", "highlight_target", "poisson_deviance", "count_parameters"]
