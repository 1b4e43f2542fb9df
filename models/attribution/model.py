"""Selling-point attribution: how much each explained class lifts orders, carts and positive chat
against the room's own baseline. Pure, incremental, JSON-serialisable state.

The model, per outcome (orders, carts, positive chat), is a Poisson regression with exponential
decay:

    E[y_t] = baseline_t x exp(sum_c beta_c x exposure_c(t))

- ``baseline_t`` = the room's rate per viewer-minute in windows with no recent explanation
  (exponentially weighted, half-life ``baseline_half_life_min``) x viewers x window minutes; so a
  class explained while the room is busy is not credited with the audience's size.
- ``exposure_c(t)`` = 1 while an explanation of class c runs, exp(-minutes since it ended /
  ``decay_min``) after it (summed over explanations), at the window's midpoint.
- A room intercept ``alpha`` multiplies every window: when explanations never pause long enough
  for quiet windows, the baseline falls back to all windows (which contain the uplift) and
  ``alpha`` absorbs that offset, so ``beta_c`` stays the lift over the room's real normal.
- ``beta_c`` is the maximum a-posteriori estimate under a normal prior (the category's value,
  ``prior_strength`` precision): a new room starts from the category and moves with evidence.
  Newton steps on the kept windows (at most ``max_windows``) after every window.
- Uplift = exp(beta_c) - 1 at full exposure, with a ``ci`` interval from the posterior curvature,
  widened by the over-dispersion the windows show (Pearson chi^2 / dof, at least 1).

Feed it in stream order: ``observe_explanation`` when a selling-point segment (or promotion)
closes, ``observe_window`` when a metrics window closes. One instance per room (pooled over the
room's products) or per (room, product): the processor chooses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

OUTCOMES = ("orders", "carts", "positive_chat")
STATE_FORMAT = "livelens.attribution.v1"


@dataclass(frozen=True)
class AttributionConfig:
    decay_min: float = 3.0
    baseline_half_life_min: float = 20.0
    quiet_exposure: float = 0.05  # a window below this total exposure counts towards the baseline
    prior_strength: float = 4.0  # precision of the category prior on beta (1 / variance)
    intercept_prior_strength: float = 0.1  # the room intercept is nearly free
    max_windows: int = 360  # 6 h of 1-min windows; the JSON state grows ~0.25 KiB per kept window
    max_exposure_age_min: float = 20.0  # explanations older than this (after their end) expose nothing
    ci: float = 0.9
    newton_steps: int = 2


@dataclass(frozen=True)
class Uplift:
    label: str
    kind: str
    outcome: str
    uplift: float  # exp(beta) - 1: +0.3 = 30 % more than baseline at full exposure
    lo: float
    hi: float
    explanations: int
    exposed_windows: int
    last_explained_ms: int | None
    from_prior_only: bool  # no exposed window yet: the estimate is the category prior

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _z(ci: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + ci / 2)


@dataclass
class UpliftAttribution:
    """One room's (or one room-product's) attribution state."""

    room_id: str
    config: AttributionConfig = field(default_factory=AttributionConfig)
    #: category prior: label -> {"beta": {outcome: value}, "kind": ...}; missing labels start at 0
    prior: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    explanations: list[dict] = field(default_factory=list)  # recent ones, for exposure
    counts: dict[str, int] = field(default_factory=dict)
    last_explained_ms: dict[str, int] = field(default_factory=dict)
    #: baseline: exponentially weighted sums of each outcome and of viewer-minutes over quiet windows
    baseline: dict[str, float] = field(default_factory=lambda: {**{o: 0.0 for o in OUTCOMES}, "viewer_minutes": 0.0, "quiet_windows": 0})
    all_windows: dict[str, float] = field(default_factory=lambda: {**{o: 0.0 for o in OUTCOMES}, "viewer_minutes": 0.0})
    #: windows kept for the regression: (exposure by label, expected by outcome, observed by outcome)
    windows: list[dict] = field(default_factory=list)
    beta: dict[str, dict[str, float]] = field(default_factory=dict)  # outcome -> label -> beta
    dispersion: dict[str, float] = field(default_factory=lambda: {o: 1.0 for o in OUTCOMES})
    alpha: dict[str, float] = field(default_factory=lambda: {o: 0.0 for o in OUTCOMES})  # room intercept per outcome
    curvature: dict[str, dict[str, float]] = field(default_factory=dict)  # outcome -> label -> marginal precision

    # ------------------------------------------------------------------ input

    def observe_explanation(self, start_ms: int, end_ms: int, label: str, kind: str = "selling_point", product: str = "") -> None:
        """A selling-point segment (``kind="selling_point"``) or a promotion (``kind="promotion"``) that closed."""
        if not label:
            return
        end_ms = max(int(end_ms), int(start_ms))
        self._ensure(label, kind)
        self.explanations.append({"start_ms": int(start_ms), "end_ms": end_ms, "label": label, "product": product})
        self.counts[label] = self.counts.get(label, 0) + 1
        self.last_explained_ms[label] = max(self.last_explained_ms.get(label, end_ms), end_ms)

    def observe_window(self, start_ms: int, window_ms: int, viewers: float | None, orders: float, carts: float = 0.0, positive_chat: float = 0.0) -> None:
        """One closed metrics window. ``viewers`` None or <= 0: rates are per minute, not per viewer."""
        minutes = max(window_ms, 1) / 60_000
        audience = float(viewers) if viewers is not None and math.isfinite(viewers) and viewers > 0 else 1.0
        observed = {"orders": float(orders), "carts": float(carts), "positive_chat": float(positive_chat)}
        if not all(math.isfinite(v) and v >= 0 for v in observed.values()):
            return
        exposure = self._exposure(start_ms + window_ms / 2)
        total = sum(exposure.values())
        decay = 0.5 ** (minutes / self.config.baseline_half_life_min)
        for name, value in observed.items():
            self.all_windows[name] = decay * self.all_windows[name] + value
        self.all_windows["viewer_minutes"] = decay * self.all_windows["viewer_minutes"] + audience * minutes
        expected = {name: self._rate(name) * audience * minutes for name in OUTCOMES}  # before this window updates it
        if total < self.config.quiet_exposure:
            for name, value in observed.items():
                self.baseline[name] = decay * self.baseline[name] + value
            self.baseline["viewer_minutes"] = decay * self.baseline["viewer_minutes"] + audience * minutes
            self.baseline["quiet_windows"] += 1
        self.windows.append({"x": {k: round(v, 4) for k, v in exposure.items() if v > 1e-4},
                             "e": {k: float(f"{v:.5g}") for k, v in expected.items()}, "y": observed})
        if len(self.windows) > self.config.max_windows:
            del self.windows[0]
        self._fit()

    # ------------------------------------------------------------------ output

    def uplift(self, label: str, outcome: str = "orders") -> Uplift:
        self._ensure(label, self.kinds.get(label, "selling_point"))
        beta = self.beta.get(outcome, {}).get(label, self._prior_beta(label, outcome))
        precision = self.curvature.get(outcome, {}).get(label, self.config.prior_strength)
        se = math.sqrt(self.dispersion.get(outcome, 1.0) / max(precision, 1e-9))
        z = _z(self.config.ci)
        exposed = sum(1 for w in self.windows if label in w["x"])
        return Uplift(label, self.kinds[label], outcome, math.expm1(beta), math.expm1(beta - z * se), math.expm1(beta + z * se),
                      self.counts.get(label, 0), exposed, self.last_explained_ms.get(label), exposed == 0)

    def table(self, outcome: str = "orders", labels: Iterable[str] | None = None) -> list[Uplift]:
        """Every known class (or ``labels``), highest uplift first."""
        return sorted((self.uplift(label, outcome) for label in (labels or self.labels)), key=lambda u: -u.uplift)

    # ------------------------------------------------------------------ state

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT, "room_id": self.room_id, "config": self.config.__dict__, "prior": self.prior,
            "labels": self.labels, "kinds": self.kinds, "explanations": self.explanations, "counts": self.counts,
            "last_explained_ms": self.last_explained_ms, "baseline": self.baseline, "all_windows": self.all_windows,
            "windows": self.windows, "beta": self.beta, "dispersion": self.dispersion, "alpha": self.alpha, "curvature": self.curvature,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "UpliftAttribution":
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a {STATE_FORMAT} state")
        model = cls(state["room_id"], AttributionConfig(**state["config"]), state["prior"], list(state["labels"]), dict(state["kinds"]),
                    list(state["explanations"]), dict(state["counts"]), dict(state["last_explained_ms"]), dict(state["baseline"]),
                    dict(state["all_windows"]), list(state["windows"]), {o: dict(b) for o, b in state["beta"].items()}, dict(state["dispersion"]),
                    dict(state["alpha"]), {o: dict(c) for o, c in state["curvature"].items()})
        return model

    @classmethod
    def warm(cls, room_id: str, category_prior: dict[str, dict[str, Any]], config: AttributionConfig | None = None) -> "UpliftAttribution":
        """A new room starting from the category's prior (see :func:`category_prior`)."""
        model = cls(room_id, config or AttributionConfig(), prior=category_prior)
        for label, entry in category_prior.items():
            model._ensure(label, entry.get("kind", "selling_point"))
        return model

    # ------------------------------------------------------------------ internals

    def _ensure(self, label: str, kind: str) -> None:
        if label not in self.kinds:
            self.labels.append(label)
            self.kinds[label] = kind

    def _prior_beta(self, label: str, outcome: str) -> float:
        return float(self.prior.get(label, {}).get("beta", {}).get(outcome, 0.0))

    def _rate(self, outcome: str) -> float:
        """Baseline outcome per viewer-minute: quiet windows once there are a few, else all windows."""
        source = self.baseline if self.baseline["quiet_windows"] >= 3 else self.all_windows
        return (source[outcome] + 0.5) / (source["viewer_minutes"] + 1e-9) if source["viewer_minutes"] > 0 else 1.0

    def _exposure(self, ts_ms: float) -> dict[str, float]:
        horizon_ms = self.config.max_exposure_age_min * 60_000
        self.explanations = [e for e in self.explanations if ts_ms - e["end_ms"] <= horizon_ms]
        out: dict[str, float] = {}
        for e in self.explanations:
            if e["start_ms"] > ts_ms:
                continue
            x = 1.0 if ts_ms <= e["end_ms"] else math.exp(-(ts_ms - e["end_ms"]) / 60_000 / self.config.decay_min)
            out[e["label"]] = out.get(e["label"], 0.0) + x
        return out

    def _fit(self) -> None:
        """Newton steps on the kept windows: column 0 is the room intercept, then one per class."""
        labels = self.labels
        k = len(labels) + 1
        x = np.zeros((len(self.windows), k))
        x[:, 0] = 1.0
        column = {label: i + 1 for i, label in enumerate(labels)}
        for row, w in enumerate(self.windows):
            for label, value in w["x"].items():
                x[row, column[label]] = value
        precision = np.diag([self.config.intercept_prior_strength] + [self.config.prior_strength] * (k - 1))
        for outcome in OUTCOMES:
            y = np.array([w["y"][outcome] for w in self.windows])
            e = np.maximum(np.array([w["e"][outcome] for w in self.windows]), 1e-9)
            prior = np.array([0.0] + [self._prior_beta(label, outcome) for label in labels])
            current = self.beta.get(outcome, {})
            beta = np.array([self.alpha.get(outcome, 0.0)] + [current.get(label, prior[column[label]]) for label in labels])
            for _ in range(self.config.newton_steps):
                mu = e * np.exp(np.clip(x @ beta, -6, 6))
                gradient = x.T @ (y - mu) - precision @ (beta - prior)
                hessian = (x * mu[:, None]).T @ x + precision
                beta = beta + np.clip(np.linalg.solve(hessian, gradient), -1.0, 1.0)
            mu = e * np.exp(np.clip(x @ beta, -6, 6))
            covariance = np.linalg.inv((x * mu[:, None]).T @ x + precision)
            self.alpha[outcome] = float(beta[0])
            self.beta[outcome] = {label: float(beta[column[label]]) for label in labels}
            self.curvature[outcome] = {label: 1.0 / float(covariance[column[label], column[label]]) for label in labels}
            dof = len(y) - k
            pearson = float(np.sum((y - mu) ** 2 / np.maximum(mu, 1e-9)) / dof) if dof > 0 else 1.0
            self.dispersion[outcome] = max(1.0, pearson)


def category_prior(rooms: Iterable[UpliftAttribution], min_windows: int = 1) -> dict[str, dict[str, Any]]:
    """The per-category prior from finished rooms: per class and outcome, the mean of the rooms'
    betas, weighted by how many exposed windows each room had for that class."""
    sums: dict[str, dict[str, list[float]]] = {}
    kinds: dict[str, str] = {}
    for room in rooms:
        for label in room.labels:
            exposed = sum(1 for w in room.windows if label in w["x"])
            if exposed < min_windows:
                continue
            kinds[label] = room.kinds[label]
            for outcome in OUTCOMES:
                entry = sums.setdefault(label, {}).setdefault(outcome, [0.0, 0.0])
                entry[0] += exposed * room.beta.get(outcome, {}).get(label, 0.0)
                entry[1] += exposed
    return {
        label: {"kind": kinds[label], "beta": {o: round(s / w, 4) for o, (s, w) in per.items() if w > 0}}
        for label, per in sums.items()
    }
