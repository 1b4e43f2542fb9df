"""Optional HMAC-signed webhooks (alerts, clips, recommendations) for ops tools.

As a worker sink (``register``), every event on the ``alerts`` and ``recommendations`` topics
goes to ``LIVELENS_ANOMALY__WEBHOOK_URL`` / ``LIVELENS_RECOMMEND__WEBHOOK_URL`` when set (clips:
:mod:`sinks.clips`).

Delivery runs in a background task with a bounded queue, retries with backoff and a short
timeout, so a slow receiver never blocks a stream. The body is the event JSON; headers carry
``X-Livelens-Timestamp`` and ``X-Livelens-Signature: sha256=…`` over ``"{timestamp}.{body}"``
(``streams.security``), so receivers can reject tampered, stale and replayed requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from streams.observability import SINK_WRITES
from streams.security import sign

log = logging.getLogger(__name__)


class WebhookSender:
    def __init__(self, url: str, secret: str | None, name: str, queue_size: int = 1000,
                 timeout_s: float = 3.0, retries: int = 3):
        self.url, self.secret, self.name = url, secret, name
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(queue_size)
        self.timeout_s, self.retries = timeout_s, retries
        self._task: asyncio.Task | None = None

    def submit(self, body: bytes) -> None:
        """Queue one delivery; drops (and counts) when the receiver is too far behind."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            self.queue.put_nowait(body)
        except asyncio.QueueFull:
            SINK_WRITES.labels(f"webhook:{self.name}", "dropped").inc()

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            while True:
                body = await self.queue.get()
                try:
                    await self._deliver(client, body)
                finally:
                    self.queue.task_done()

    async def drain(self) -> None:
        """Return once every delivery submitted so far has been made (or has failed)."""
        await self.queue.join()

    async def _deliver(self, client: httpx.AsyncClient, body: bytes) -> None:
        delay = 0.5
        for attempt in range(1, self.retries + 1):
            headers = {"Content-Type": "application/json"}
            if self.secret:
                headers.update(sign(body, self.secret))  # fresh timestamp per attempt
            try:
                r = await client.post(self.url, content=body, headers=headers)
                if r.status_code < 500:
                    SINK_WRITES.labels(f"webhook:{self.name}", "ok" if r.is_success else f"http{r.status_code}").inc()
                    return
            except httpx.HTTPError as exc:
                log.warning("webhook %s attempt %d failed: %s", self.name, attempt, type(exc).__name__)
            await asyncio.sleep(delay)
            delay *= 2
        SINK_WRITES.labels(f"webhook:{self.name}", "failed").inc()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


#: topic -> the settings section holding its webhook_url / webhook_secret
WEBHOOK_TOPICS = {"alerts": "anomaly", "recommendations": "recommend"}


def register(ctx) -> None:
    """Worker wiring: an agent per topic whose section configures a webhook URL."""
    for topic, section_name in WEBHOOK_TOPICS.items():
        section = getattr(ctx.settings, section_name)
        if not section.webhook_url:
            continue
        secret = section.webhook_secret.get_secret_value() if section.webhook_secret else None
        sender = WebhookSender(section.webhook_url, secret, topic)

        async def deliver(stream, sender=sender):
            async for raw in stream:
                sender.submit(raw)  # the event JSON exactly as on the topic

        ctx.app.agent(ctx.topic(topic), name=f"{ctx.settings.app_id}.sink-webhook-{topic}")(deliver)
