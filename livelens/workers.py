"""Worker processes started by the demo, the benchmarks, the fuzz run and the integration tests.

A child ``livelens worker`` sees exactly the :class:`Settings` it is given: they travel as
``LIVELENS_*`` environment variables (sections as JSON), and inherited ``LIVELENS_*`` variables
are dropped so nothing from the parent's environment overrides them. A worker is *ready* once it
has announced a partition assignment in Redis (``livelens.worker.ready_key``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, SecretStr

from livelens.worker import ready_key
from streams.settings import Settings


def _plain(value: Any) -> Any:
    """JSON-ready, with secrets revealed (the child needs the real values)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {k: _plain(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def settings_env(settings: Settings) -> dict[str, str]:
    """``LIVELENS_*`` variables that reproduce ``settings`` in a child process."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = _plain(getattr(settings, name))
        if value is None:
            continue
        key = f"LIVELENS_{name.upper()}"
        if isinstance(value, (dict, list)):
            env[key] = json.dumps(value)
        elif isinstance(value, bool):
            env[key] = "true" if value else "false"
        else:
            env[key] = str(value)
    return env


class WorkerProcess:
    """One ``livelens worker`` child process with its own log file."""

    def __init__(self, settings: Settings, log_path: Path, *, loglevel: str = "warning",
                 extra_env: dict[str, str] | None = None):
        if not settings.kafka_bootstrap or not settings.redis_url:
            raise ValueError("a worker process needs settings with kafka_bootstrap and redis_url")
        self.settings = settings
        self.log_path = Path(log_path)
        self.loglevel = loglevel
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("LIVELENS_")}
        return {**inherited, **settings_env(self.settings), **self.extra_env}

    def start(self) -> "WorkerProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "livelens.cli", "worker", "--loglevel", self.loglevel],
                env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        return self

    async def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until this process held partitions; raises with the log's tail otherwise."""
        assert self.proc is not None, "start() first"
        client = aioredis.from_url(self.settings.redis_url.get_secret_value())
        t0 = time.time()
        try:
            while time.time() - t0 < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"worker exited with code {self.proc.returncode}: {self.log_tail()}")
                if await client.exists(ready_key(self.settings.app_id, self.proc.pid)):
                    return time.time() - t0
                await asyncio.sleep(0.2)
        finally:
            await client.aclose()
        raise TimeoutError(f"worker not ready within {timeout:.0f} s: {self.log_tail()}")

    async def started(self, timeout: float = 120.0) -> "WorkerProcess":
        self.start()
        await self.wait_ready(timeout)
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no final commit (failure tests)."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    async def dump_tasks(self, wait_s: float = 2.0) -> str:
        """Ask the worker where its tasks wait (``streams.framework.TaskDumpingWorker`` logs it on
        SIGUSR1) and return its log from there on: what a stuck worker is waiting for."""
        if not self.alive():
            return ""
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc.send_signal(signal.SIGUSR1)
        await asyncio.sleep(wait_s)
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""
