"""Benchmarks: ``livelens bench <name>`` (one module each, with ``register(app)``)."""

from rich.console import Console


def table_console(width: int = 140, stderr: bool = False) -> Console:
    """A console for a benchmark's tables: the terminal's width, or ``width`` when piped (logs, CI),
    so wide tables are not squeezed to 80 columns."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=width)
