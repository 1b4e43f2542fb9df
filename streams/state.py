"""Per-room live state that reaches its faust table (and changelog) when input offsets are committed.

Why: chat windows and room metrics used to write the room's whole state to their table on every
input, i.e. one changelog record (a JSON snapshot) per chat message. That was the largest
share of those stages' cost and of the broker's. Here the live model object stays in memory
and is written once per commit instead (faust commits every ``commit_interval_s``).

Why it loses nothing: the worker's consumer (``streams.kafka``) calls :meth:`RoomStates.write`
right before it commits offsets, and faust flushes the producer (changelog included) before the
commit itself. So every committed input is covered by a changelog record sent before the commit.
After a crash the new owner restores the table from the changelog and re-reads the inputs after
the committed offset, which the table's state does not hold yet (at most the input in flight at
the commit is in both; room metrics skip such a redelivery by its offset).

Outputs first: a state may be written while its agent is still sending the outputs of the input
it just applied (a closed window). If the worker died then, the restored state would hold that
input, its replay would be skipped as already applied, and the window would never be sent. So
the agent hands such sends to :meth:`RoomStates.applied` and a commit waits for them to reach
the producer (which faust flushes before committing).

On a rebalance faust seeks every partition back to its committed offset, so the live objects of
the partitions given up are dropped and reloaded from the table, which holds the state as of the
last commit: the re-read inputs are applied once.

Input acks stay automatic (faust acks an event once the agent takes the next one); an earlier
version acked by hand after timed writes and lost inputs in the SIGKILL failover test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RoomStates(Generic[T]):
    """Live objects per key (room) over a faust table.

    ``load(table_value_or_None)`` builds the live object, ``dump(obj)`` gives the JSON-safe value
    written to the table; it must be a snapshot (not the live object's own dict): the table keeps
    it as the state to reload after a rebalance, while the live object moves on.
    """

    def __init__(self, table, load: Callable[[Any], T], dump: Callable[[T], Any]):
        self.table = table
        self.load = load
        self.dump = dump
        self._live: dict[str, tuple[int, T]] = {}  # key -> (partition, live object)
        self._dirty: set[str] = set()
        self._sending: dict[str, asyncio.Event] = {}  # key -> set once its outputs are sent

    def get(self, key: str, partition: int) -> T:
        """The key's live object (loaded from the table the first time, or after a rebalance)."""
        hit = self._live.get(key)
        if hit is not None:
            return hit[1]
        obj = self.load(self.table.get(key))
        self._live[key] = (partition, obj)
        return obj

    def live(self, key: str) -> T | None:
        """The key's live object if it is loaded (None: not yet, or dropped by a rebalance)."""
        hit = self._live.get(key)
        return hit[1] if hit is not None else None

    def changed(self, key: str) -> None:
        """The key's live object changed: write it with the next commit."""
        if key in self._live:
            self._dirty.add(key)

    async def applied(self, key: str, outputs: Awaitable[Any] | None = None) -> None:
        """An input changed ``key``'s live object: send what it produced (``outputs``, e.g. the
        windows it closed), then mark ``key`` for the next commit. A commit waits until those
        outputs are with the producer before it writes ``key`` (see the module docstring)."""
        if outputs is not None:
            done = self._sending[key] = asyncio.Event()
            try:
                await outputs
            finally:
                del self._sending[key]
                done.set()
        self.changed(key)

    async def write(self) -> int:
        """Send every changed object to the table's changelog and wait until the broker has each
        (called before offsets are committed)."""
        n = 0
        for key in list(self._dirty):
            while (pending := self._sending.get(key)) is not None:
                await pending.wait()
            hit = self._live.get(key)
            self._dirty.discard(key)
            if hit is None:  # dropped by a rebalance meanwhile
                continue
            partition, obj = hit
            value = self.dump(obj)
            self.table.data[key] = value  # what a rebalance reloads from
            # Straight to the producer, one record at a time: faust's send_soon buffer can report
            # "flushed" while its last record is still on the way, and Tansu reports a wrong end
            # offset for a batch of several records (streams/kafka.py quirk 5), so a changelog
            # restore would stop before the batch's last record.
            sent = await self.table.changelog_topic.send(
                key=key, value=value, partition=partition, key_serializer=self.table.key_serializer,
                value_serializer=self.table.value_serializer, force=True)
            await sent
            n += 1
        return n

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget the live objects of ``partitions`` (given up, or re-read from the commit)."""
        for key in [k for k, (p, _obj) in self._live.items() if p in partitions]:
            del self._live[key]
            self._dirty.discard(key)

    def __len__(self) -> int:
        return len(self._live)
