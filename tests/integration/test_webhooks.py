"""Alerts and recommendations reach an ops tool's webhook, HMAC-signed (real broker + worker)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from pydantic import SecretStr

from streams.schemas import Alert, Recommendation
from streams.security import SignatureVerifier
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
SECRET = "ops-shared-secret"


class _Receiver(BaseHTTPRequestHandler):
    verifier = SignatureVerifier(SECRET)
    received: list[tuple[str, dict, str | None]] = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        problem = self.verifier.verify(body, {k: v for k, v in self.headers.items()})
        self.received.append((self.path, json.loads(body), problem))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # keep test output quiet
        pass


async def test_alert_and_recommendation_webhooks_are_signed(settings, producer, worker_factory):
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        settings.sinks = ["webhook"]
        settings.anomaly.webhook_url, settings.anomaly.webhook_secret = f"{base}/alerts", SecretStr(SECRET)
        settings.recommend.webhook_url, settings.recommend.webhook_secret = f"{base}/recs", SecretStr(SECRET)
        await worker_factory(["metrics"])
        topics = TopicNames(settings.topic_prefix)
        alert = Alert(room_id="hook-room", stream_ms=1000, alert_type="audio_silence", state="open",
                      severity="warning", dedup_key="hook-room:audio_silence", message="audio silent for 1.5 s")
        rec = Recommendation(room_id="hook-room", stream_ms=1200, rec_type="explain_size_fit", message_zh="讲尺码",
                             message_en="explain the size", reason="9 size questions", priority=75,
                             expires_ms=61_200, dedup_key="hook-room:size")
        await producer.send_and_wait(topics.alerts, alert.to_bytes(), key=alert.key)
        await producer.send_and_wait(topics.recommendations, rec.to_bytes(), key=rec.key)

        got = await wait_for(lambda: len(_Receiver.received) >= 2 and _Receiver.received, timeout=60,
                             what="both webhook deliveries")
        by_path = {path: (body, problem) for path, body, problem in got}
        assert by_path["/alerts"][0]["event_id"] == alert.event_id
        assert by_path["/recs"][0]["rec_type"] == "explain_size_fit"
        assert all(problem is None for _body, problem in by_path.values()), by_path  # signature, age, no replay
    finally:
        server.shutdown()
