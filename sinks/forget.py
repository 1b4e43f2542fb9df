"""The right to be forgotten: remove a room's or a viewer's data everywhere livelens stored it.

Where livelens keeps data (docs/DATA_INVENTORY.md): the Redis keys of :mod:`sinks.redis` and the
clip index of :mod:`sinks.clips` (all ``livelens:{room}:*``, plus the ``livelens:rooms`` and
``livelens:clips:rooms`` sets), the clip folders under the clips dir (:mod:`media.clip_files`)
and a local segment store's room folder (rolling media). Kafka holds only pseudonymised, masked
input (streams/ingest/privacy.py) and expires with the broker's retention.

- :func:`forget_room`: every key of the room, its set memberships, its clip and segment folders.
- :func:`forget_user`: every stream entry and state field of a viewer, in each room (or one):
  the viewer's pseudonym in that room (and the raw id, for data written before pseudonymising, or
  a pseudonym given as the id) is matched against each event's ``user_id``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from sinks.redis import PREFIX, room_key
from streams.ingest.privacy import ViewerPrivacy
from media.segment_store import check_room_id

SCAN_COUNT = 500
XRANGE_COUNT = 500


@dataclass
class Removed:
    """What one forget removed."""

    keys: list[str] = field(default_factory=list)
    stream_entries: dict[str, int] = field(default_factory=dict)  # key -> entries deleted
    state_fields: dict[str, list[str]] = field(default_factory=dict)  # key -> fields deleted
    folders: list[str] = field(default_factory=list)
    memberships: list[str] = field(default_factory=list)  # "set: member"

    @property
    def total(self) -> int:
        return (len(self.keys) + sum(self.stream_entries.values()) + sum(map(len, self.state_fields.values()))
                + len(self.folders) + len(self.memberships))


async def known_rooms(client: aioredis.Redis) -> list[str]:
    return sorted(set(await client.smembers(f"{PREFIX}:rooms")) | set(await client.smembers(f"{PREFIX}:clips:rooms")))


async def _room_keys(client: aioredis.Redis, room_id: str, pattern: str = "*") -> list[str]:
    # room ids are [A-Za-z0-9_.:-]: nothing in them is a glob character
    return [k async for k in client.scan_iter(match=room_key(room_id, pattern), count=SCAN_COUNT)]


async def forget_room(client: aioredis.Redis, room_id: str, clips_dir: Path | None,
                      segments_dir: Path | None = None) -> Removed:
    """Delete everything livelens stored about ``room_id``."""
    check_room_id(room_id)
    removed = Removed()
    keys = await _room_keys(client, room_id)
    for start in range(0, len(keys), 500):
        await client.delete(*keys[start:start + 500])
    removed.keys = sorted(keys)
    for set_key in (f"{PREFIX}:rooms", f"{PREFIX}:clips:rooms", f"{PREFIX}:decisions:rooms"):
        if await client.srem(set_key, room_id):
            removed.memberships.append(f"{set_key}: {room_id}")
    for root in (clips_dir, segments_dir):
        folder = root / room_id if root is not None else None
        if folder is not None and folder.is_dir():
            shutil.rmtree(folder)
            removed.folders.append(str(folder))
    return removed


async def forget_user(client: aioredis.Redis, user_id: str, privacy: ViewerPrivacy,
                      rooms: list[str] | None = None) -> Removed:
    """Delete every stream entry and state field whose event names the viewer ``user_id``."""
    removed = Removed()
    for room in rooms if rooms is not None else await known_rooms(client):
        check_room_id(room)
        ids = {privacy.viewer_id(user_id, room), user_id}
        for key in await _room_keys(client, room, "stream:*"):
            deleted = 0
            cursor = "-"
            while True:
                rows = await client.xrange(key, min=cursor, max="+", count=XRANGE_COUNT)
                doomed = [entry_id for entry_id, fields in rows if _names(fields.get("event"), ids)]
                if doomed:
                    deleted += await client.xdel(key, *doomed)
                if len(rows) < XRANGE_COUNT:
                    break
                cursor = "(" + rows[-1][0]  # exclusive: after the last entry read
            if deleted:
                removed.stream_entries[key] = deleted
        state = room_key(room, "state")
        fields = [f for f, v in (await client.hgetall(state)).items() if f.startswith("last:") and _names(v, ids)]
        if fields:
            await client.hdel(state, *fields)
            removed.state_fields[state] = fields
    return removed


def _names(raw: str | None, ids: set[str]) -> bool:
    """Whether the event JSON ``raw`` is about one of ``ids`` (its ``user_id``, or an item's)."""
    if not raw:
        return False
    try:
        event = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(event, dict):
        return False
    if event.get("user_id") in ids:
        return True
    return any(isinstance(item, dict) and item.get("user_id") in ids for item in event.get("items", ()) or ())
