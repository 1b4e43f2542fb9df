"""The ``livelens`` command line.

Each capability adds its commands from its own module, so this file stays a list:
``livelens/commands/<name>.py`` and ``livelens/bench/<name>.py`` each define
``register(app: typer.Typer) -> None``.

Errors: a user error (:mod:`livelens.errors`: bad flags, missing or unreadable media, an
unreachable broker or Redis, invalid settings) prints one line on stderr and exits non-zero;
``livelens --debug <command>`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from livelens.errors import describe

app = typer.Typer(no_args_is_help=True, add_completion=False, help="livelens: real-time analysis of live-commerce rooms.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: print the figures and the command that produced them.")
app.add_typer(bench_app, name="bench")

#: command modules (livelens/commands/*.py) and benchmark modules (livelens/bench/*.py)
COMMAND_MODULES = ["core", "ingest", "sample", "asr", "understanding", "vision", "fusion", "clips", "anomaly", "recommend", "web", "fuzz", "compliance", "forget"]
BENCH_MODULES = ["pipeline", "asr", "understanding", "fusion", "clips", "anomaly", "load", "compliance", "forecast", "attribution", "kafka_compat"]


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

#: set by ``--debug`` (before the command name): tracebacks instead of one-line errors
_debug = False


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors.")) -> None:
    global _debug
    _debug = debug


def _fail(message: str, code: int) -> None:
    print(f"livelens: error: {message}", file=sys.stderr)
    sys.exit(code)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        # not standalone: click would print usage errors as a boxed, multi-line report
        result = app(prog_name="livelens", standalone_mode=False)
    except typer.TyperException as exc:  # typer's (vendored click) usage errors: bad flags, bad values
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _fail(f"{exc.format_message()}{hint}", exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the one place errors become a line and an exit code
        if _debug:
            raise
        try:
            message = describe(exc)
        except Exception:  # noqa: BLE001 - describing must never hide the error itself
            message = None
        if message is None:  # not a known user error: say so, still in one line
            first_line = next(iter(str(exc).strip().splitlines()), "")
            message = f"{type(exc).__name__}: {first_line} (an unexpected error; `livelens --debug ...` shows where)"
        _fail(message, getattr(exc, "exit_code", 1))
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
