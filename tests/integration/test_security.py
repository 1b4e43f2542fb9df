"""Security of running processes: loopback-only listeners and no secrets in their logs.

A worker (with its Prometheus port on) and ``livelens api`` run as real subprocesses against a
Redis that requires a password, with the API token and a Kafka SASL password set.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from streams.embedded import EmbeddedRedis, free_port
from tests.integration.conftest import WorkerProcess
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration

REDIS_PASSWORD = "redis-Secret-8f3a1c"
API_TOKEN = "api-Secret-27b9e0d4c1"
SASL_PASSWORD = "sasl-Secret-5d6e7f"
SECRETS = (REDIS_PASSWORD, API_TOKEN, SASL_PASSWORD)


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(ip, port) of every TCP socket the process listens on, from /proc (like ``ss -ltnp``)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            hex_ip, hex_port = local.split(":")
            raw = bytes.fromhex(hex_ip)
            # /proc stores each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            out.append((socket.inet_ntop(family, raw), int(hex_port, 16)))
    return out


@pytest.fixture
def secured_redis():
    server = EmbeddedRedis().start()
    import redis

    redis.Redis(host=server.host, port=server.port).config_set("requirepass", REDIS_PASSWORD)
    yield server
    server.stop()


class SecretWorker(WorkerProcess):
    metrics_port = 0

    def env(self) -> dict[str, str]:
        return {**super().env(), "LIVELENS_METRICS_PORT": str(self.metrics_port),
                "LIVELENS_API_TOKEN": API_TOKEN, "LIVELENS_KAFKA_SASL_PASSWORD": SASL_PASSWORD}


async def test_listeners_bind_loopback_and_no_secret_reaches_a_log(settings, secured_redis, tmp_path, producer):
    redis_url = f"redis://:{REDIS_PASSWORD}@{secured_redis.host}:{secured_redis.port}/0"
    settings = settings.model_copy(update={"redis_url": SecretStr(redis_url)})
    worker = SecretWorker(settings, tmp_path / "worker.log", ["metrics"])
    worker.metrics_port = free_port()
    api_port = free_port()
    api_log = tmp_path / "api.log"
    env = {**worker.env(), "LIVELENS_API_PORT": str(api_port)}
    env.pop("LIVELENS_BIND_HOST", None)  # the default is under test
    worker_env = worker.env
    worker.env = lambda: {k: v for k, v in worker_env().items() if k != "LIVELENS_BIND_HOST"}
    api = None
    try:
        await worker.start()
        api = subprocess.Popen([sys.executable, "-m", "livelens.cli", "api"], env=env,
                               stdout=open(api_log, "ab"), stderr=subprocess.STDOUT)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=5) as client:
            async def healthy():
                assert api.poll() is None, api_log.read_text()
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(healthy, timeout=60, what="livelens api")
            auth = {"Authorization": f"Bearer {API_TOKEN}"}
            body = "\n".join([json.dumps({"kind": "chat", "user_id": "u", "text": "hi"}), "{broken"])
            assert (await client.post("/ingest/sec-room", content=body, headers=auth)).status_code == 200
            assert (await client.get("/api/rooms", headers=auth)).status_code == 200
            assert (await client.get(f"/api/rooms?token={API_TOKEN}")).status_code == 401  # never in a URL
            assert (await client.get("/api/rooms")).status_code == 401
            metrics = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/metrics", timeout=5)
            assert metrics.status_code == 200

        # nothing listens beyond 127.0.0.1 by default
        for name, pid, port in (("worker", worker.proc.pid, worker.metrics_port), ("api", api.pid, api_port)):
            addresses = listening_addresses(pid)
            assert ("127.0.0.1", port) in addresses, (name, addresses)
            assert all(ip == "127.0.0.1" for ip, _ in addresses), f"{name} listens beyond loopback: {addresses}"

    finally:
        if api is not None:
            api.terminate()
            api.wait(20)
        worker.stop()

    config = subprocess.run([sys.executable, "-m", "livelens.cli", "config"], env=env, capture_output=True,
                            text=True, timeout=60)
    logs = {"worker": worker.log_tail(10**7), "api": api_log.read_text(errors="replace"),
            "config": config.stdout + config.stderr}
    assert "worker" in logs["worker"].lower()  # the logs were captured at all
    for name, text in logs.items():
        for secret in SECRETS:
            assert secret not in text, f"{name} log contains a secret"
