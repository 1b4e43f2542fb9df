"""Core commands: worker, infra (embedded broker + Redis), config."""

from __future__ import annotations

import json
import signal
import threading

import typer

from livelens.errors import UserError
from streams.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        processors: str = typer.Option(None, help="Comma-separated processors (default: LIVELENS_PROCESSORS)"),
        metrics_port: int = typer.Option(None, help="Prometheus port (0 disables)"),
        loglevel: str = typer.Option("warning"),
    ) -> None:
        """Run a faust worker with the configured processors (needs LIVELENS_KAFKA_BOOTSTRAP, LIVELENS_REDIS_URL)."""
        from livelens.worker import run_worker

        settings = Settings()
        if processors:
            settings.processors = [p.strip() for p in processors.split(",") if p.strip()]
        if metrics_port is not None:
            settings.metrics_port = metrics_port
        if not settings.kafka_bootstrap or not settings.redis_url:
            raise UserError(
                "a worker needs LIVELENS_KAFKA_BOOTSTRAP and LIVELENS_REDIS_URL; "
                "`livelens infra` starts embedded ones, `livelens demo` does everything")
        run_worker(settings, settings.kafka_bootstrap, settings.redis_url.get_secret_value(), loglevel)

    @app.command()
    def infra() -> None:
        """Start the embedded broker (Tansu) and Redis (Valkey) on loopback and print their addresses."""
        from streams.embedded import infrastructure

        settings = Settings()
        with infrastructure(None, None, log_dir=settings.data_dir / "logs") as inf:
            typer.echo(f"export LIVELENS_KAFKA_BOOTSTRAP={inf.kafka_bootstrap}")
            typer.echo(f"export LIVELENS_REDIS_URL={inf.redis_url}")
            typer.echo(f"# other Kafka clients (kcat, confluent-kafka, Go/.NET/Node): {inf.kafka_external_bootstrap}")
            typer.echo("# running; Ctrl-C stops both", err=True)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass

    @app.command()
    def topics() -> None:
        """Create every topic (inputs, outputs, table changelogs) with the configured partition count."""
        import asyncio

        from livelens.worker import build_context, prepare_topics

        settings = Settings()
        if not settings.kafka_bootstrap:
            raise UserError("set LIVELENS_KAFKA_BOOTSTRAP (`livelens infra` starts an embedded broker)")
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else ""
        ctx = build_context(settings, settings.kafka_bootstrap, redis_url)
        asyncio.run(prepare_topics(settings, settings.kafka_bootstrap, ctx))
        typer.echo(f"{len(ctx.topics.all())} topics + {len(ctx.tables)} changelogs ready "
                   f"with {settings.partitions} partitions")

    @app.command()
    def docs(out: str = typer.Option("docs/EVENTS.md", help="Where to write")) -> None:
        """Regenerate the topic and event reference (docs/EVENTS.md) from the schema module."""
        from pathlib import Path

        from livelens.docs import render

        Path(out).write_text(render(), encoding="utf-8")
        typer.echo(f"wrote {out}")

    @app.command()
    def config() -> None:
        """Print the effective settings (secrets masked)."""
        typer.echo(json.dumps(Settings().redacted(), indent=2, default=str))

    @app.command()
    def demo(
        lang: str = typer.Option("zh", help="Sample room language(s): zh (the default: the product is Chinese "
                                 "first), en or both"),
        speed: float = typer.Option(1.0, help="Pace ingest at this multiple of real time (ASR needs ~1 on 2 cores)"),
        full_speed: bool = typer.Option(False, "--full-speed", help="No pacing: as fast as ingest goes"),
        sample_dir: str = typer.Option(None, help="Where sample rooms live (default: var/sample_room)"),
    ) -> None:
        """Run the whole pipeline on the embedded default with the sample room; print a summary."""
        import asyncio
        from pathlib import Path

        from livelens.demo import run_demo

        if lang not in ("zh", "en", "both"):
            raise typer.BadParameter(f"unknown sample room language {lang!r}: use zh, en or both")
        settings = Settings()
        langs = ["zh", "en"] if lang == "both" else [lang]
        out = Path(sample_dir) if sample_dir else settings.data_dir / "sample_room"
        code = asyncio.run(run_demo(settings, langs, speed, not full_speed, out))
        raise typer.Exit(code)
