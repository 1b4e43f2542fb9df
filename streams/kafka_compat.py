"""A Kafka-protocol compatibility proxy in front of the embedded broker, for any Kafka client.

Why: librdkafka before 2.2 (Debian 12's kcat has 2.0.2; it is also the library under
confluent-kafka, the Go, .NET and Node clients) skips one byte too few for every *non-empty*
KIP-482 tagged field it does not know (librdkafka PR #4278, fixed in 2.2). The embedded Tansu
broker writes all four ApiVersions v3 tagged fields (SupportedFeatures, FinalizedFeaturesEpoch,
FinalizedFeatures, ZkMigrationReady) even at their default values, where Apache Kafka omits
them. librdkafka then misreads the epoch's 8 bytes as a length and gives up ("Protocol read
buffer underflow for ApiVersion v3 at 274/279"), and librdkafka 2.x sends that request even with
``api.version.request=false``, so such a client cannot talk to the broker at all.

What this proxy changes, and nothing else (every other byte passes through unchanged):

* ApiVersions responses (v3+, no error): tagged fields that hold their default value are dropped,
  as Apache Kafka does; the frame length is rewritten.
* Metadata, FindCoordinator and DescribeCluster responses: the broker's own address is replaced
  by the proxy's (the port field only, same size), so a client that bootstrapped through the
  proxy keeps talking through it.

livelens's own clients (aiokafka) talk to the broker directly and never pay for the proxy;
``EmbeddedBroker`` starts it and ``livelens infra`` prints its address for external producers.
How to drop it: when the broker omits default-valued tagged fields (or every client in use has
librdkafka >= 2.2), stop starting it in ``streams/embedded.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import struct
import threading

log = logging.getLogger(__name__)

API_VERSIONS, METADATA, FIND_COORDINATOR, DESCRIBE_CLUSTER = 18, 3, 10, 60
REWRITTEN_APIS = {API_VERSIONS, METADATA, FIND_COORDINATOR, DESCRIBE_CLUSTER}

# ApiVersions v3 response tagged fields and the bytes of their default values (the Kafka
# protocol's ApiVersionsResponse.json): SupportedFeatures and FinalizedFeatures are empty
# compact arrays, FinalizedFeaturesEpoch is -1, ZkMigrationReady is false.
API_VERSIONS_DEFAULT_TAGS = {
    0: b"\x01",
    1: b"\xff" * 8,
    2: b"\x01",
    3: b"\x00",
}


class ProtocolError(ValueError):
    """A response this proxy cannot parse; it is then passed through unchanged."""


class _Reader:
    """Cursor over a response body with the Kafka primitive types."""

    def __init__(self, data: bytes | bytearray, pos: int = 0):
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        out = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return out

    def int16(self) -> int:
        return struct.unpack(">h", self.take(2))[0]

    def int32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ProtocolError("varint too long")

    def string(self, compact: bool) -> bytes | None:
        n = self.uvarint() - 1 if compact else self.int16()
        return None if n < 0 else self.take(n)

    def array_len(self, compact: bool) -> int:
        return self.uvarint() - 1 if compact else self.int32()

    def tags(self) -> list[tuple[int, bytes]]:
        return [(self.uvarint(), self.take(self.uvarint())) for _ in range(self.uvarint())]


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def fix_api_versions(body: bytes, version: int) -> bytes:
    """Drop the default-valued top-level tagged fields of an ApiVersions v3+ response body
    (which starts with the correlation id; ApiVersions responses always use header v0)."""
    if version < 3:
        return body
    r = _Reader(body, 4)
    if r.int16() != 0:  # an error reply is encoded as v0: nothing to fix
        return body
    for _ in range(r.array_len(compact=True)):
        r.take(6)  # api_key, min_version, max_version
        r.tags()
    r.int32()  # throttle_time_ms
    tags_at = r.pos
    tags = r.tags()
    if r.pos != len(body):
        raise ProtocolError(f"{len(body) - r.pos} bytes after the ApiVersions body")
    kept = [(tag, value) for tag, value in tags if API_VERSIONS_DEFAULT_TAGS.get(tag) != value]
    if len(kept) == len(tags):
        return body
    encoded = b"".join(_uvarint(tag) + _uvarint(len(value)) + value for tag, value in kept)
    return body[:tags_at] + _uvarint(len(kept)) + encoded


def _patch_port(body: bytearray, r: _Reader, compact: bool, host: bytes, port: int, new_port: int) -> None:
    """Read ``host, port`` at the cursor; if they are the broker's, write ``new_port`` in place."""
    seen_host = r.string(compact)
    at = r.pos
    if r.int32() == port and seen_host == host:
        body[at:at + 4] = struct.pack(">i", new_port)


def rewrite_broker_address(api_key: int, version: int, body: bytes, host: str, port: int,
                           new_port: int) -> bytes:
    """Replace the broker's ``host:port`` by ``host:new_port`` in a Metadata, FindCoordinator or
    DescribeCluster response body (starting with the correlation id). Other bodies unchanged."""
    out = bytearray(body)
    host_b = host.encode()
    r = _Reader(out, 4)
    if api_key == METADATA:
        flexible = version >= 9
        if flexible:
            r.tags()  # response header v1
        if version >= 3:
            r.int32()  # throttle_time_ms
        for _ in range(r.array_len(flexible)):
            r.int32()  # node_id
            _patch_port(out, r, flexible, host_b, port, new_port)
            if version >= 1:
                r.string(flexible)  # rack
            if flexible:
                r.tags()
    elif api_key == FIND_COORDINATOR:
        flexible = version >= 3
        if flexible:
            r.tags()
        if version >= 1:
            r.int32()  # throttle_time_ms
        if version >= 4:
            for _ in range(r.array_len(compact=True)):
                r.string(compact=True)  # key
                r.int32()  # node_id
                _patch_port(out, r, True, host_b, port, new_port)
                r.int16()  # error_code
                r.string(compact=True)  # error_message
                r.tags()
        else:
            r.int16()  # error_code
            if version >= 1:
                r.string(flexible)  # error_message
            r.int32()  # node_id
            _patch_port(out, r, flexible, host_b, port, new_port)
    elif api_key == DESCRIBE_CLUSTER:
        r.tags()
        r.int32()  # throttle_time_ms
        r.int16()  # error_code
        r.string(compact=True)  # error_message
        if version >= 1:
            r.take(1)  # endpoint_type
        r.string(compact=True)  # cluster_id
        r.int32()  # controller_id
        for _ in range(r.array_len(compact=True)):
            r.int32()  # broker_id
            _patch_port(out, r, True, host_b, port, new_port)
            r.string(compact=True)  # rack
            r.tags()
    return bytes(out)


class KafkaCompatProxy:
    """Listens on ``host:port`` and relays every connection to the broker at ``host:upstream_port``.

    Runs on its own event loop in a daemon thread (``start``/``stop`` are synchronous), so it
    serves external clients whatever the starting process does.
    """

    def __init__(self, upstream_port: int, host: str = "127.0.0.1", port: int = 0):
        self.host, self.upstream_port, self.port = host, upstream_port, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "KafkaCompatProxy":
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._serve, self.host, self.port))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="kafka-compat-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"the Kafka compatibility proxy did not start within {timeout:.0f} s")
        if failure:
            raise failure[0]
        log.info("Kafka compatibility proxy on %s -> %s:%d", self.bootstrap, self.host, self.upstream_port)
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            connections = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in connections:
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread is not None:
            self._thread.join(5)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError as exc:
            log.warning("Kafka compatibility proxy: broker %s:%d unreachable (%s)", self.host, self.upstream_port, exc)
            client_writer.close()
            return
        pending: dict[int, tuple[int, int]] = {}  # correlation id -> (api key, version) to rewrite
        pumps = [asyncio.ensure_future(self._requests(client_reader, broker_writer, pending)),
                 asyncio.ensure_future(self._responses(broker_reader, client_writer, pending))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for writer in (client_writer, broker_writer):
                writer.close()

    @staticmethod
    async def _frames(reader: asyncio.StreamReader):
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                size = await reader.readexactly(4)
                yield size, await reader.readexactly(struct.unpack(">i", size)[0])

    async def _requests(self, reader, writer, pending) -> None:
        async for size, body in self._frames(reader):
            if len(body) >= 8:
                api_key, version, correlation_id = struct.unpack_from(">hhi", body)
                if api_key in REWRITTEN_APIS:
                    pending[correlation_id] = (api_key, version)
            writer.write(size + body)
            await writer.drain()

    async def _responses(self, reader, writer, pending) -> None:
        async for size, body in self._frames(reader):
            request = pending.pop(struct.unpack_from(">i", body)[0], None) if len(body) >= 4 else None
            if request is not None:
                api_key, version = request
                try:
                    if api_key == API_VERSIONS:
                        body = fix_api_versions(body, version)
                    else:
                        body = rewrite_broker_address(api_key, version, body, self.host,
                                                      self.upstream_port, self.port)
                except ProtocolError as exc:
                    log.warning("passing an unparsed response through (api %d v%d): %s", api_key, version, exc)
                size = struct.pack(">i", len(body))
            writer.write(size + body)
            await writer.drain()


def main() -> None:
    """``python -m streams.kafka_compat --upstream-port 9092 --port 9093``: run the proxy alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    proxy = KafkaCompatProxy(args.upstream_port, args.host, args.port).start()
    print(proxy.bootstrap, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    proxy.stop()


if __name__ == "__main__":
    main()
