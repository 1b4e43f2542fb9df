"""The embedded broker's (Tansu, memory storage) CPU per request against the size of a partition.

    .venv/bin/python scripts/bench_broker_fetch.py

For one-partition topics pre-filled with B record batches (R records each), prints the broker's CPU
milliseconds per produce request, per fetch of a record near the end, and per ListOffsets
(``end_offsets``). Why it matters: a fetch that returns data costs in proportion to the number of
*batches* already in the partition (records per batch do not matter), so a benchmark's broker
gets slower as its topics fill (``livelens bench load`` prints the broker's CPU every 5 s). Real
Kafka finds an offset through its index; this is a property of the test broker, not of livelens.
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from livelens.bench.load import proc_cpu_s
from livelens.bench.machine import reference_ms
from streams.embedded import infrastructure

VALUE = b"x" * 200
CASES = [(0, 1), (1_000, 1), (5_000, 1), (500, 10), (20_000, 1)]  # (batches, records per batch)


async def _fill(bootstrap: str, topic: str, batches: int, per_batch: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=0)
    await producer.start()
    try:
        for _ in range(batches):
            batch = producer.create_batch()
            for _ in range(per_batch):
                batch.append(key=None, value=VALUE, timestamp=None)
            await producer.send_batch(batch, topic, partition=0)
        await producer.flush()
    finally:
        await producer.stop()


async def _costs(bootstrap: str, topic: str, broker_pid: int, n: int = 50) -> tuple[float, float, float]:
    """Broker CPU ms per produce request, per near-end fetch and per end_offsets call."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
    await producer.start()
    await consumer.start()
    try:
        cpu0 = proc_cpu_s(broker_pid)
        for _ in range(n):
            await (await producer.send(topic, VALUE, partition=0))
        produce = (proc_cpu_s(broker_pid) - cpu0) / n * 1000
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        cpu0 = proc_cpu_s(broker_pid)
        for i in range(n):
            consumer.seek(tp, end - 1 - i)
            await consumer.getone()
        fetch = (proc_cpu_s(broker_pid) - cpu0) / n * 1000
        cpu0 = proc_cpu_s(broker_pid)
        for _ in range(n):
            await consumer.end_offsets([tp])
        list_offsets = (proc_cpu_s(broker_pid) - cpu0) / n * 1000
        return produce, fetch, list_offsets
    finally:
        await consumer.stop()
        await producer.stop()


async def main() -> None:
    print(f"machine reference {reference_ms():.0f} ms (livelens/bench/machine.py, lower is faster)")
    with infrastructure(None, None) as infra:
        pid = infra.broker_pid
        if pid is None:
            sys.exit("needs the embedded broker (unset LIVELENS_KAFKA_BOOTSTRAP)")
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
        await admin.start()
        try:
            print(f"{'batches':>8} {'rec/batch':>9} {'produce ms':>10} {'fetch ms':>9} {'end_offsets ms':>14}  (broker CPU per request)")
            for batches, per_batch in CASES:
                topic = f"fetchcost-{batches}x{per_batch}"
                await admin.create_topics([NewTopic(topic, 1, 1)])
                if batches:
                    await _fill(infra.kafka_bootstrap, topic, batches, per_batch)
                produce, fetch, list_offsets = await _costs(infra.kafka_bootstrap, topic, pid)
                print(f"{batches:>8} {per_batch:>9} {produce:>10.2f} {fetch:>9.2f} {list_offsets:>14.2f}", flush=True)
        finally:
            await admin.close()
    print("command: .venv/bin/python scripts/bench_broker_fetch.py")


if __name__ == "__main__":
    asyncio.run(main())
