"""``livelens api``: HTTP ingest, the read API (and the dashboard), token-protected."""

from __future__ import annotations

import typer

from livelens.errors import UserError
from streams.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def api(
        host: str = typer.Option(None, help="Bind address (default LIVELENS_BIND_HOST, 127.0.0.1)"),
        port: int = typer.Option(None, help="Port (default LIVELENS_API_PORT)"),
    ) -> None:
        """Serve the API. Needs LIVELENS_REDIS_URL; HTTP ingest also needs LIVELENS_KAFKA_BOOTSTRAP."""
        import asyncio

        import uvicorn

        from sinks.redis import wait_for_redis
        from sinks.web.app import create_api

        settings = Settings()
        if not settings.redis_url:
            raise UserError("LIVELENS_REDIS_URL is required (`livelens infra` starts one)")
        asyncio.run(wait_for_redis(settings.redis_url.get_secret_value(), settings.connect_wait_s))
        api_app = create_api(settings, settings.redis_url.get_secret_value(), settings.kafka_bootstrap)
        typer.echo(f"API token: in LIVELENS_API_TOKEN or {settings.data_dir / 'api-token'}", err=True)
        typer.echo(f"dashboard: http://{host or settings.bind_host}:{port or settings.api_port}/dashboard "
                   "(sign in once with the token); clip desk: /dashboard/desk", err=True)
        uvicorn.run(api_app, host=host or settings.bind_host, port=port or settings.api_port,
                    log_level="warning", limit_concurrency=1000, timeout_keep_alive=5)
