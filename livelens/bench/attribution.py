"""``livelens bench attribution``: does the attribution model rank selling points by their TRUE
uplift? On GENERATED live sessions (models/attribution/scenario.py) whose per-class uplift is known.

For each held-out session and each prefix length (minutes of the session seen so far), the classes
explained at least once are ranked by the estimated orders uplift and compared with the true
uplift (Spearman rank correlation; sessions with fewer than 3 explained classes are left out).
Models, all fed the same windows in stream order:

- ``decay_regression``: models/attribution (baseline per viewer-minute, Poisson regression with
  decay), cold: prior 0 for every class;
- ``decay_regression_warm``: the same, starting from the category prior learned on separate
  training sessions (other seeds) with :func:`models.attribution.category_prior`;
- ``raw_post_rate`` (baseline): mean orders per window in the ``decay_min`` x 2 minutes after each
  explanation of the class, no baseline correction.

The generator's confounder (classes explained more when the room is busy) is what the raw rate
cannot separate; the figures say how well each model recovers THOSE dynamics, not real rooms.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import numpy as np
import typer
from livelens.bench import table_console

PREFIXES_MIN = (30, 60, 120, 180)


def _spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    from scipy.stats import spearmanr

    rho = spearmanr(a, b)[0]
    return None if rho is None or not np.isfinite(rho) else float(rho)


def replay(session: Any, prior: dict | None = None, until_min: float | None = None) -> Any:
    """Feed a generated session to a fresh UpliftAttribution in stream order."""
    from models.attribution import UpliftAttribution

    model = UpliftAttribution.warm(session.room_id, prior) if prior else UpliftAttribution(session.room_id)
    explanations = sorted(session.explanations, key=lambda e: e["end_ms"])
    next_explanation = 0
    for w in session.windows:
        end = w["window_start_ms"] + w["window_ms"]
        if until_min is not None and end > until_min * 60_000:
            break
        while next_explanation < len(explanations) and explanations[next_explanation]["end_ms"] <= end:
            e = explanations[next_explanation]
            model.observe_explanation(e["start_ms"], e["end_ms"], e["label"], e["kind"], e["product"])
            next_explanation += 1
        model.observe_window(w["window_start_ms"], w["window_ms"], w["viewers"], w["orders"], w["carts"], w["positive_chat"])
    return model


def raw_post_rate(session: Any, decay_min: float, until_min: float | None = None) -> dict[str, float]:
    """Baseline: mean orders per window in the 2 x decay_min minutes after each explanation ended."""
    limit = None if until_min is None else until_min * 60_000
    totals: dict[str, list[float]] = {}
    for e in session.explanations:
        if limit is not None and e["end_ms"] > limit:
            continue
        after = [w["orders"] for w in session.windows
                 if e["start_ms"] <= w["window_start_ms"] + w["window_ms"] / 2 <= e["end_ms"] + 2 * decay_min * 60_000
                 and (limit is None or w["window_start_ms"] + w["window_ms"] <= limit)]
        if after:
            totals.setdefault(e["label"], []).extend(after)
    return {label: float(np.mean(values)) for label, values in totals.items()}


def run_attribution_benchmark(
    test_sessions: int = 20, train_sessions: int = 20, minutes: int = 180, seed: int = 500,
    progress: Callable[[], None] | None = None,
) -> dict[str, Any]:
    from models.attribution import AttributionConfig, category_prior
    from models.attribution.scenario import LiveScenarioConfig, category_uplift, generate_live_session

    scenario = LiveScenarioConfig(minutes=minutes)
    decay = AttributionConfig().decay_min
    train_rooms = []
    for i in range(train_sessions):
        train_rooms.append(replay(generate_live_session(seed + 10_000 + i, scenario)))  # disjoint seeds
        if progress:
            progress()
    prior = category_prior(train_rooms)
    truth_prior = category_uplift(scenario.world_seed)
    prior_rho = _spearman([prior[c]["beta"]["orders"] for c in prior], [truth_prior[c] for c in prior])
    prefixes = [p for p in PREFIXES_MIN if p < minutes] + [minutes]
    rhos: dict[str, dict[int, list[float]]] = {m: {p: [] for p in prefixes} for m in ("decay_regression", "decay_regression_warm", "raw_post_rate")}
    fit_ms: list[float] = []
    # explain-next: where the top recommended selling point sits among the explained ones by TRUE uplift
    top_pick: dict[str, list[float]] = {"explain_next (warm)": [], "raw_post_rate top": [], "random (expected)": []}
    for i in range(test_sessions):
        session = generate_live_session(seed + i, scenario)
        for prefix in prefixes:
            started = time.perf_counter()
            cold = replay(session, None, prefix)
            if prefix == minutes:
                fit_ms.append((time.perf_counter() - started) * 1000 / max(len(session.windows), 1))
            warm = replay(session, prior, prefix)
            raw = raw_post_rate(session, decay, prefix)
            explained = [label for label in cold.labels if cold.uplift(label).exposed_windows > 0]
            true = [session.true_log_uplift[label] for label in explained]
            for name, estimate in (("decay_regression", [cold.uplift(label).uplift for label in explained]),
                                   ("decay_regression_warm", [warm.uplift(label).uplift for label in explained])):
                rho = _spearman(estimate, true)
                if rho is not None:
                    rhos[name][prefix].append(rho)
            raw_labels = [label for label in explained if label in raw]
            rho = _spearman([raw[label] for label in raw_labels], [session.true_log_uplift[label] for label in raw_labels])
            if rho is not None:
                rhos["raw_post_rate"][prefix].append(rho)
        _score_top_picks(session, warm, raw_post_rate(session, decay), minutes, top_pick)
        if progress:
            progress()
    models = {}
    for name, by_prefix in rhos.items():
        models[name] = {
            "spearman_mean": round(float(np.mean(by_prefix[minutes])), 3) if by_prefix[minutes] else None,
            "sessions": len(by_prefix[minutes]),
            "by_session_minutes": {f"{p}": round(float(np.mean(v)), 3) if v else None for p, v in by_prefix.items()},
        }
    return {
        "sessions": (f"GENERATED (models/attribution/scenario.py): {test_sessions} held-out rooms (seeds {seed}..{seed + test_sessions - 1}), "
                     f"{train_sessions} training rooms for the category prior (seeds {seed + 10_000}..), {minutes} min each, 1-min windows; "
                     "true log-uplift per class = category value + room noise; confounder: some classes explained more when the room is busy"),
        "models": models,
        "category_prior_vs_true_category_spearman": None if prior_rho is None else round(prior_rho, 3),
        "observe_window_ms_mean": round(float(np.mean(fit_ms)), 3) if fit_ms else None,
        "explain_next_top_pick_true_percentile": {
            "what": ("at the end of each held-out session, the TRUE-uplift percentile (1 = the best class, 0 = the worst) of the selling "
                     "point each method puts first, among the selling points explained in the session; explain_next ranks with freshness "
                     "and no viewer questions, so it may skip a class explained in the last minutes"),
            **{name: round(float(np.mean(values)), 3) if values else None for name, values in top_pick.items()},
            "sessions": len(top_pick["random (expected)"]),
        },
    }


def _score_top_picks(session: Any, warm: Any, raw: dict[str, float], minutes: int, out: dict[str, list[float]]) -> None:
    from models.recommend.explain_next import rank_explain_next

    explained = sorted({e["label"] for e in session.explanations if e["kind"] == "selling_point"})
    if len(explained) < 3:
        return
    order = sorted(explained, key=lambda label: session.true_log_uplift[label])

    def percentile(label: str) -> float:
        return order.index(label) / (len(order) - 1)

    ranking = rank_explain_next(warm, minutes * 60_000)
    pick = next((a.label for a in ranking.selling_points if a.label in explained), None)
    raw_pick = max((label for label in explained if label in raw), key=lambda label: raw[label], default=None)
    if pick is None or raw_pick is None:
        return
    out["explain_next (warm)"].append(percentile(pick))
    out["raw_post_rate top"].append(percentile(raw_pick))
    out["random (expected)"].append(0.5)


def register(app: typer.Typer) -> None:
    @app.command("attribution")
    def attribution(
        test_sessions: int = typer.Option(20, help="held-out generated sessions"),
        train_sessions: int = typer.Option(20, help="generated sessions the category prior is learned on"),
        minutes: int = typer.Option(180, help="minutes per session"),
        seed: int = typer.Option(500, help="first seed of the held-out sessions"),
        json_out: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    ) -> None:
        """Spearman rank correlation of estimated vs TRUE per-class uplift on generated sessions."""
        from rich.console import Console
        from rich.progress import Progress
        from rich.table import Table

        if test_sessions < 1 or train_sessions < 1 or minutes < 10:
            raise typer.BadParameter("sessions must be >= 1 and minutes >= 10")
        defaults = {"test_sessions": 20, "train_sessions": 20, "minutes": 180, "seed": 500}
        given = {"test_sessions": test_sessions, "train_sessions": train_sessions, "minutes": minutes, "seed": seed}
        command = "livelens bench attribution" + "".join(f" --{k.replace('_', '-')} {v}" for k, v in given.items() if v != defaults[k]) + (" --json" if json_out else "")
        started = time.perf_counter()
        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("sessions", total=test_sessions + train_sessions)
            result = run_attribution_benchmark(test_sessions, train_sessions, minutes, seed, lambda: bar.advance(task))
        result["wall_s"] = round(time.perf_counter() - started, 1)
        result["command"] = command
        if json_out:
            typer.echo(json.dumps(result, indent=1, ensure_ascii=False))
            return
        console = table_console(140)
        console.print(f"[bold]Sessions:[/bold] {result['sessions']}")
        prefixes = list(next(iter(result["models"].values()))["by_session_minutes"])
        table = Table(title="Spearman(estimated, true orders uplift) over explained classes, mean over sessions")
        table.add_column("model")
        for p in prefixes:
            table.add_column(f"after {p} min", justify="right")
        table.add_column("sessions", justify="right")
        for name, row in result["models"].items():
            table.add_row(name, *[str(row["by_session_minutes"][p]) for p in prefixes], str(row["sessions"]))
        console.print(table)
        picks = result["explain_next_top_pick_true_percentile"]
        console.print("top selling-point pick, true-uplift percentile among explained classes (1 = best): "
                      + ", ".join(f"{k} {v}" for k, v in picks.items() if k not in ("what", "sessions")) + f" ({picks['sessions']} sessions)")
        console.print(f"category prior vs true category uplift: Spearman {result['category_prior_vs_true_category_spearman']}; "
                      f"observe_window mean {result['observe_window_ms_mean']} ms; wall {result['wall_s']} s")
        console.print(f"$ {command}")
