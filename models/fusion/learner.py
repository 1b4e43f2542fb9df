"""Learning the fusion model: online per room, offline over recorded sessions, with checkpoints.

Online: the window at time t is predicted when it closes; when window t+1 closes, its orders and
carts are the outcome of window t and ``observe(window_t, orders, carts)`` makes one AdamW step
(small lr, weight decay, gradient-norm clipping) on a minibatch of the newest example plus
examples drawn from a bounded replay buffer of the room's recent windows (one noisy window cannot
yank the weights). During training each present modality is hidden with ``modality_dropout``
probability, so the model learns to answer with any subset (it lowered held-out error ~10 %). Predictions come from an exponential moving average (EMA) of the weights.
Until ``min_updates`` updates have been made, ``predict`` answers with the documented prior
(models/fusion/prior.py) and says so (``learned=False``). Checkpoints are ``torch.save`` dicts
of state_dicts; a new room is warm-started from a shared checkpoint (its weights and EMA, a fresh
optimiser and replay buffer, the room's own baselines).
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

import numpy as np
import torch

from models.fusion.features import MODALITIES, FusionDims, WindowFeatures, WindowFeaturizer
from models.fusion.net import FusionNet, collate, fusion_loss
from models.fusion.prior import prior_scores

CHECKPOINT_FORMAT = "livelens-fusion/1"


@dataclass
class FusionConfig:
    d_model: int = 32
    heads: int = 2
    modalities: tuple[str, ...] = MODALITIES
    #: "mean" of the modality projections (shipped: it beat attention on the validation rooms of
    #: ``livelens bench fusion --seeds 0,1,2``, BENCHMARKS.md) or "attention" (a learned query)
    pooling: str = "mean"
    learning_rate: float = 1e-3
    weight_decay: float = 0.01  # 1e-4 overfit the training rooms (bench: worse on unseen rooms)
    grad_clip: float = 1.0
    #: training only: hide each present modality with this probability (robustness to missing ones)
    modality_dropout: float = 0.1
    interaction_layers: int = 1
    ema_decay: float = 0.95
    #: answer with the prior until this many updates (online steps or offline steps inherited)
    min_updates: int = 50
    replay_size: int = 512
    batch_size: int = 16
    #: online steps between automatic checkpoints (when a checkpoint_dir is set); 0 = never
    checkpoint_every: int = 100
    baseline_alpha: float = 0.05
    seed: int = 0
    dims: FusionDims = field(default_factory=FusionDims)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["modalities"] = list(self.modalities)
        out["dims"] = {"text_embedding": self.dims.text_embedding, "selling_point_labels": list(self.dims.selling_point_labels), "chat_intents": list(self.dims.chat_intents), "history": self.dims.history}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FusionConfig":
        data = dict(data)
        dims = data.pop("dims", None) or {}
        config = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        config.modalities = tuple(config.modalities)
        config.dims = FusionDims(
            text_embedding=int(dims.get("text_embedding", 512)),
            selling_point_labels=tuple(dims.get("selling_point_labels", FusionDims().selling_point_labels)),
            chat_intents=tuple(dims.get("chat_intents", FusionDims().chat_intents)),
            history=bool(dims.get("history", False)),  # checkpoints from before it had no history inputs
        )
        return config


@dataclass
class FusionOutput:
    start_ms: int
    end_ms: int
    highlight: float  # [0, 1]
    orders_forecast: float  # expected orders in the NEXT window, >= 0
    carts_forecast: float
    attention: dict[str, float]  # per modality, 0 for missing ones
    modalities: list[str]  # present in this window
    learned: bool  # False = the documented prior answered
    cost_ms: float = 0.0
    #: per present modality, how much it moves the orders forecast: log(forecast with it ÷ forecast
    #: with it hidden); +0.2 = this modality raises the forecast ~22 % (``predict(..., influence=True)``)
    influence: dict[str, float] = field(default_factory=dict)


class FusionModel(Protocol):
    """The fusion family's interface: one instance per room, windows in stream order."""

    def featurize(self, raw: Mapping[str, Any]) -> WindowFeatures: ...

    def predict(self, window: WindowFeatures) -> FusionOutput: ...

    def observe(self, window: WindowFeatures, next_orders: float, next_carts: float) -> float | None: ...


@dataclass
class RecordedSession:
    """One room's recorded windows (raw window dicts, see features.py), in order. Each window's
    outcome is ``window["outcome"]`` (orders/carts that happened in it) or else its commerce."""

    room_id: str
    windows: list[dict[str, Any]]
    description: str = ""


def outcome_of(raw: Mapping[str, Any]) -> tuple[float, float] | None:
    source = raw.get("outcome") or raw.get("commerce")
    if not source:
        return None
    return float(source.get("orders", 0) or 0), float(source.get("carts", 0) or 0)


def session_examples(session: RecordedSession, dims: FusionDims, baseline_alpha: float = 0.05) -> list[tuple[WindowFeatures, float, float]]:
    """(window t features, orders in t+1, carts in t+1) for every window with a known next outcome."""
    featurizer = WindowFeaturizer(session.room_id, dims, baseline_alpha)
    windows = [featurizer.featurize(raw) for raw in session.windows]
    examples = []
    for t in range(len(windows) - 1):
        outcome = outcome_of(session.windows[t + 1])
        if outcome is not None:
            examples.append((windows[t], outcome[0], outcome[1]))
    return examples


class OnlineFusionLearner:
    """Fusion for one room: featurize -> predict -> observe the outcome -> learn."""

    def __init__(self, room_id: str, config: FusionConfig | None = None, checkpoint_dir: Path | str | None = None) -> None:
        self.room_id = room_id
        self.config = config or FusionConfig()
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.featurizer = WindowFeaturizer(room_id, self.config.dims, self.config.baseline_alpha)
        self.net = FusionNet(self.config.dims, self.config.d_model, self.config.heads, self.config.modalities, self.config.pooling, seed=self.config.seed, interaction_layers=self.config.interaction_layers)  # type: ignore[arg-type]
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.optimizer = self._new_optimizer()
        self.updates = 0
        self.replay: deque[tuple[WindowFeatures, float, float]] = deque(maxlen=self.config.replay_size)
        self._rng = random.Random(self.config.seed)
        self._torch_rng = torch.Generator().manual_seed(self.config.seed)

    def _new_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.net.parameters(), lr=self.config.learning_rate, weight_decay=self.config.weight_decay)

    @property
    def learned(self) -> bool:
        return self.updates >= self.config.min_updates

    # --- inference ---------------------------------------------------------------------------

    def featurize(self, raw: Mapping[str, Any]) -> WindowFeatures:
        return self.featurizer.featurize(raw)

    def predict(self, window: WindowFeatures, influence: bool = False) -> FusionOutput:
        """The window's outputs; with ``influence``, also each present modality's influence (the
        window is predicted once more per present modality with that one hidden, in one batch)."""
        if not influence:
            return self.predict_batch([window])[0]
        present = window.present
        variants = [window] + [replace(window, **{m: None}) for m in present]
        outputs = self.predict_batch(variants)
        output = outputs[0]
        full = max(output.orders_forecast, 1e-6)
        output.cost_ms *= len(variants)  # predict_batch reports the cost per variant
        output.influence = {m: round(math.log(full / max(hidden.orders_forecast, 1e-6)), 4) for m, hidden in zip(present, outputs[1:])}
        return output

    def predict_batch(self, windows: Sequence[WindowFeatures], use_prior: bool | None = None) -> list[FusionOutput]:
        started = time.perf_counter()
        prior = (not self.learned) if use_prior is None else use_prior
        outputs: list[FusionOutput] = []
        if prior:
            for window in windows:
                highlight, orders, carts, attention = prior_scores(window)
                outputs.append(FusionOutput(window.start_ms, window.end_ms, highlight, orders, carts, attention, window.present, learned=False))
        else:
            with torch.no_grad():
                result = self.ema(*collate(windows, self.config.dims, self.net.modalities))
            for i, window in enumerate(windows):
                attention = {m: 0.0 for m in MODALITIES}
                attention.update({m: float(result["attention"][i, j]) for j, m in enumerate(self.net.modalities)})
                outputs.append(
                    FusionOutput(
                        window.start_ms, window.end_ms, float(result["highlight"][i]), float(result["orders"][i]), float(result["carts"][i]),
                        attention, [m for m in window.present if m in self.net.modalities], learned=True,
                    )
                )
        cost = (time.perf_counter() - started) * 1000.0 / max(len(windows), 1)
        for output in outputs:
            output.cost_ms = cost
        return outputs

    # --- learning ----------------------------------------------------------------------------

    def _tensors(self, examples: Sequence[tuple[WindowFeatures, float, float]]) -> tuple[Any, ...]:
        inputs, present, base_orders, base_carts = collate([e[0] for e in examples], self.config.dims, self.net.modalities)
        orders = torch.tensor([e[1] for e in examples], dtype=torch.float32)
        carts = torch.tensor([e[2] for e in examples], dtype=torch.float32)
        return inputs, present, base_orders, base_carts, orders, carts

    def loss(self, examples: Sequence[tuple[WindowFeatures, float, float]], use_ema: bool = True) -> float:
        """Mean training loss on examples (no update): lower is better."""
        net = self.ema if use_ema else self.net
        inputs, present, base_orders, base_carts, orders, carts = self._tensors(examples)
        with torch.no_grad():
            return float(fusion_loss(net(inputs, present, base_orders, base_carts), orders, carts, base_orders, base_carts))

    def _step(
        self, inputs: dict[str, torch.Tensor], present: torch.Tensor, base_orders: torch.Tensor, base_carts: torch.Tensor,
        orders: torch.Tensor, carts: torch.Tensor,
    ) -> float:
        self.net.train()
        if self.config.modality_dropout > 0:
            keep = torch.rand(present.shape, generator=self._torch_rng) >= self.config.modality_dropout
            dropped = present & keep
            present = torch.where(dropped.any(dim=1, keepdim=True), dropped, present)  # never hide every modality
        loss = fusion_loss(self.net(inputs, present, base_orders, base_carts), orders, carts, base_orders, base_carts)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
        self.optimizer.step()
        with torch.no_grad():
            decay = self.config.ema_decay
            for ema_p, p in zip(self.ema.parameters(), self.net.parameters()):
                ema_p.mul_(decay).add_(p.detach(), alpha=1 - decay)
        self.updates += 1
        return float(loss.detach())

    def observe(self, window: WindowFeatures, next_orders: float, next_carts: float) -> float:
        """Learn from one outcome (orders and carts of the window after ``window``)."""
        example = (window, float(next_orders), float(next_carts))
        self.replay.append(example)
        pool = list(self.replay)[:-1]
        batch = [example] + self._rng.sample(pool, min(len(pool), self.config.batch_size - 1))
        loss = self._step(*self._tensors(batch))
        if self.checkpoint_dir and self.config.checkpoint_every and self.updates % self.config.checkpoint_every == 0:
            self.save()
        return loss

    def fit(self, examples: Sequence[tuple[WindowFeatures, float, float]], epochs: int = 10, batch_size: int | None = None) -> list[float]:
        """Offline: shuffled minibatches over the examples, ``epochs`` passes. Returns epoch losses.
        The EMA follows as in online learning and is set to the final weights at the end."""
        inputs, present, base_orders, base_carts, orders, carts = self._tensors(examples)  # collate once
        generator = torch.Generator().manual_seed(self.config.seed)
        size = batch_size or self.config.batch_size
        history = []
        for _ in range(epochs):
            order = torch.randperm(len(examples), generator=generator)
            losses = []
            for k in range(0, len(examples), size):
                index = order[k:k + size]
                losses.append(self._step({m: v[index] for m, v in inputs.items()}, present[index], base_orders[index], base_carts[index], orders[index], carts[index]))
            history.append(float(np.mean(losses)) if losses else float("nan"))
        self.ema.load_state_dict(self.net.state_dict())
        return history

    # --- checkpoints -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "room_id": self.room_id,
            "config": self.config.to_dict(),
            "updates": self.updates,
            "model": self.net.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "featurizer": self.featurizer.state(),
        }

    def save(self, path: Path | str | None = None) -> Path:
        """torch.save the state; default path ``checkpoint_dir/<room_id>.pt`` (atomic replace)."""
        if path is None:
            if self.checkpoint_dir is None:
                raise ValueError("no path given and no checkpoint_dir set")
            path = self.checkpoint_dir / f"{_safe(self.room_id)}.pt"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        torch.save(self.state(), temporary)
        temporary.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | str, checkpoint_dir: Path | str | None = None) -> "OnlineFusionLearner":
        """Resume a room exactly (weights, EMA, optimiser, update count, baselines)."""
        state = _read(path)
        learner = cls(state["room_id"], FusionConfig.from_dict(state["config"]), checkpoint_dir)
        learner.net.load_state_dict(state["model"])
        learner.ema.load_state_dict(state["ema"])
        learner.optimizer.load_state_dict(state["optimizer"])
        learner.updates = int(state["updates"])
        learner.featurizer.load_state(state["featurizer"])
        return learner

    @classmethod
    def warm_start(cls, shared_path: Path | str, room_id: str, checkpoint_dir: Path | str | None = None, **overrides: Any) -> "OnlineFusionLearner":
        """A new room from a shared model: its weights and EMA and update count (so a trained
        shared model answers at once, no prior), a fresh optimiser, replay buffer and baselines."""
        state = _read(shared_path)
        config = FusionConfig.from_dict({**state["config"], **overrides})
        learner = cls(room_id, config, checkpoint_dir)
        learner.net.load_state_dict(state["model"])
        learner.ema.load_state_dict(state["ema"])
        learner.updates = int(state["updates"])
        return learner


def train_offline(
    sessions: Iterable[RecordedSession], config: FusionConfig | None = None, epochs: int = 10, room_id: str = "shared", batch_size: int = 64,
) -> tuple[OnlineFusionLearner, list[float]]:
    """Train a shared model over recorded sessions; save it with ``learner.save(path)``."""
    learner = OnlineFusionLearner(room_id, config)
    examples = [e for session in sessions for e in session_examples(session, learner.config.dims, learner.config.baseline_alpha)]
    if not examples:
        raise ValueError("no training examples: sessions need at least two windows with outcomes")
    return learner, learner.fit(examples, epochs, batch_size)


def load_sessions(directory: Path | str) -> list[RecordedSession]:
    """Every ``*.jsonl`` under ``directory``: one raw window dict per line, one file per session."""
    sessions = []
    for path in sorted(Path(directory).glob("**/*.jsonl")):
        windows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if windows:
            sessions.append(RecordedSession(str(windows[0].get("room_id", path.stem)), windows, description=str(path)))
    return sessions


def save_session(session: RecordedSession, path: Path | str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for window in session.windows:
            handle.write(json.dumps({"room_id": session.room_id, **window}, ensure_ascii=False) + "\n")


def _read(path: Path | str) -> dict[str, Any]:
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
    return state


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
