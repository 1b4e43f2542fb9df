"""The ``livelens`` command line.

Each capability adds its commands from its own module, so this file stays a list:
``livelens/commands/<name>.py`` and ``livelens/bench/<name>.py`` each define
``register(app: typer.Typer) -> None``.
"""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="livelens: real-time analysis of live-commerce rooms.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: print the figures and the command that produced them.")
app.add_typer(bench_app, name="bench")

#: command modules (livelens/commands/*.py) and benchmark modules (livelens/bench/*.py)
COMMAND_MODULES = ["core", "ingest", "sample", "asr", "understanding", "vision", "fusion", "clips", "anomaly", "recommend", "web", "fuzz"]
BENCH_MODULES = ["pipeline", "asr", "understanding", "fusion", "clips", "anomaly", "load", "kafka_compat"]


def _register(package: str, names: list[str], target: typer.Typer) -> None:
    for name in names:
        try:
            module = importlib.import_module(f"livelens.{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"livelens.{package}.{name}":
                continue  # capability not built yet
            raise
        module.register(target)


_register("commands", COMMAND_MODULES, app)
_register("bench", BENCH_MODULES, bench_app)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
