"""``livelens bench kafka-compat``: what the Kafka compatibility proxy costs per round trip.

Starts the embedded broker (with its proxy) and measures, interleaved so both see the same
machine load, the round trip of the same request sent to the broker directly (the baseline) and
through the proxy:

* a pass-through request (Heartbeat v0 for an unknown group: the proxy only frames it);
* ApiVersions v3 (the reply the proxy rewrites);
* an aiokafka ``send_and_wait`` of one 200-byte record (acks=1).

With kcat installed it also times kcat producing ``--records`` chat records through the proxy.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import time

import typer
from rich.console import Console
from rich.table import Table

from streams.embedded import EmbeddedBroker

console = Console(stderr=True, width=120)  # the table is wider than a pipe's default 80 columns


def _request(api_key: int, version: int, correlation_id: int, body: bytes, flexible: bool = False) -> bytes:
    client = b"bench"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client)) + client + (b"\x00" if flexible else b"")
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


def _heartbeat(i: int) -> bytes:
    return _request(12, 0, i, struct.pack(">h", 5) + b"bench" + struct.pack(">ih", 1, 1) + b"m")


def _api_versions(i: int) -> bytes:
    return _request(18, 3, i, b"\x06bench\x021\x00", flexible=True)


def _round_trip(sock: socket.socket, frame: bytes) -> float:
    t = time.perf_counter()
    sock.sendall(frame)
    size = struct.unpack(">i", _recv(sock, 4))[0]
    _recv(sock, size)
    return (time.perf_counter() - t) * 1000


def _recv(sock: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = sock.recv(n - len(got))
        if not chunk:
            raise ConnectionError("connection closed")
        got += chunk
    return got


def _pct(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {"p50_ms": round(values[len(values) // 2], 3), "p99_ms": round(values[int(len(values) * 0.99)], 3)}


def _raw(broker: EmbeddedBroker, make, requests: int) -> dict:
    socks = {}
    for name, addr in (("direct", broker.bootstrap), ("proxy", broker.external_bootstrap)):
        host, port = addr.rsplit(":", 1)
        socks[name] = socket.create_connection((host, int(port)))
        socks[name].setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times: dict[str, list[float]] = {"direct": [], "proxy": []}
    try:
        for i in range(requests):
            for name, sock in socks.items():
                times[name].append(_round_trip(sock, make(i)))
    finally:
        for sock in socks.values():
            sock.close()
    return {name: _pct(t) for name, t in times.items()}


async def _aiokafka(broker: EmbeddedBroker, requests: int) -> dict:
    from aiokafka import AIOKafkaProducer

    producers = {name: AIOKafkaProducer(bootstrap_servers=addr, enable_idempotence=False, acks=1)
                 for name, addr in (("direct", broker.bootstrap), ("proxy", broker.external_bootstrap))}
    for p in producers.values():
        await p.start()
    times: dict[str, list[float]] = {"direct": [], "proxy": []}
    try:
        for _ in range(requests):
            for name, p in producers.items():
                t = time.perf_counter()
                await p.send_and_wait(f"bench-compat-{name}", b"x" * 200, key=b"room-1")
                times[name].append((time.perf_counter() - t) * 1000)
    finally:
        for p in producers.values():
            await p.stop()
    return {name: _pct(t) for name, t in times.items()}


def _kcat_produce(broker: EmbeddedBroker, records: int) -> dict | None:
    kcat = shutil.which("kcat")
    if kcat is None:
        return None
    lines = "".join(f"room-{i % 50}\t" + json.dumps({"room_id": f"room-{i % 50}", "kind": "chat", "stream_ms": i,
                                                      "user_id": f"u{i}", "text": "多少钱?"}, ensure_ascii=False) + "\n"
                    for i in range(records)).encode()
    t = time.perf_counter()
    subprocess.run([kcat, "-b", broker.external_bootstrap, "-P", "-t", "bench-compat-kcat", "-K", "\t"],
                   input=lines, check=True, capture_output=True, timeout=120)
    seconds = time.perf_counter() - t
    return {"records": records, "seconds": round(seconds, 2), "records_per_s": round(records / seconds)}


def register(app: typer.Typer) -> None:
    @app.command("kafka-compat")
    def kafka_compat(
        requests: int = typer.Option(2000, help="Round trips per request kind and path"),
        records: int = typer.Option(20000, help="Chat records kcat produces through the proxy (0: skip)"),
        json_out: bool = typer.Option(False, "--json", help="Print JSON"),
    ) -> None:
        """Round-trip cost of the Kafka compatibility proxy (direct broker = baseline)."""
        broker = EmbeddedBroker().start()
        try:
            result = {
                "pass_through_heartbeat": _raw(broker, _heartbeat, requests),
                "rewritten_api_versions_v3": _raw(broker, _api_versions, requests),
                "aiokafka_send_and_wait": asyncio.run(_aiokafka(broker, max(requests // 4, 50))),
                "kcat_produce": _kcat_produce(broker, records) if records else None,
            }
        finally:
            broker.stop()
        result["command"] = ("livelens bench kafka-compat " + " ".join(shlex.quote(a) for a in sys.argv[3:])).strip()
        if json_out:
            print(json.dumps(result, indent=2))
            return
        table = Table(title="Kafka compatibility proxy: round trip, direct vs through the proxy")
        for col in ("request", "direct p50", "proxy p50", "added p50", "direct p99", "proxy p99"):
            table.add_column(col, justify="left" if col == "request" else "right", no_wrap=True)
        for name in ("pass_through_heartbeat", "rewritten_api_versions_v3", "aiokafka_send_and_wait"):
            d, p = result[name]["direct"], result[name]["proxy"]
            table.add_row(name, f"{d['p50_ms']:.3f} ms", f"{p['p50_ms']:.3f} ms",
                          f"{p['p50_ms'] - d['p50_ms']:+.3f} ms", f"{d['p99_ms']:.3f} ms", f"{p['p99_ms']:.3f} ms")
        console.print(table)
        if result["kcat_produce"]:
            k = result["kcat_produce"]
            console.print(f"kcat produced {k['records']} chat records through the proxy in {k['seconds']} s "
                          f"({k['records_per_s']} records/s)")
        console.print(f"command: {result['command']}")
