"""The clip editors' desk end to end, in headless Chromium, against the real API and a real Redis.

A zh room and an en room, each with clip folders as the clipper writes them (a real MP4 with sound,
subtitles, meta.json). The editor signs in once, picks a room, sees the queue in the room's
language with the untrusted transcript as text, trims (the cut snaps to sentence, else word,
boundaries), approves and rejects, and downloads the export zip: the approved clip's render for
the chosen platform plus metadata.csv. Screenshots land in var/screenshots/.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import time
import uuid
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import redis
import yaml
from pydantic import SecretStr

from media.desk import snap_trim
from media.platforms import BUILTIN_DIR
from models.clips.subtitles import Cue, to_srt
from sinks.redis import RedisSink
from sinks.web.app import create_api
from streams.schemas import Clip
from streams.settings import Settings
from tests.sinks.web.live_server import serve
from tests.sinks.web.test_dashboard_e2e import SCREENSHOTS, require_browser, sign_in, start_chromium, wait_until

pytestmark = pytest.mark.integration

TOKEN = "e2e-desk-token-0123456789"
XSS_TRANSCRIPT = '<img src=x onerror="window.__xss=1">这款真丝连衣裙<script>window.__xss=2</script>'
ZH_CUES = [Cue(300, 1500, "这款真丝连衣裙"), Cue(1700, 2700, "今天只要九十九"), Cue(2800, 3800, "喜欢的快下单")]
EN_CUES = [Cue(300, 1500, "This silk dress is light"), Cue(1700, 2700, "and it breathes all day"),
           Cue(2800, 3800, "grab yours now")]


def make_mp4(path: Path, seconds: float = 4.0) -> None:
    """A small real clip: moving colour bars and a 440 Hz tone (the renderer needs sound to normalise)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=15)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.options = {"preset": "ultrafast"}
        audio = out.add_stream("aac", rate=48000, layout="mono")
        y, x = np.mgrid[0:240, 0:320]
        for i in range(int(seconds * 15)):
            rgb = np.stack([(x + 8 * i) % 256, (y * 1.4).astype(int) % 256, np.full_like(x, 150)], axis=-1)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 15)
            for packet in video.encode(frame):
                out.mux(packet)
        t = np.arange(int(seconds * 48000)) / 48000
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for k in range(0, len(samples), 1024):
            chunk = av.AudioFrame.from_ndarray(samples[None, k:k + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, k
            for packet in audio.encode(chunk):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)


@pytest.fixture
def desk_data(tmp_path, monkeypatch) -> Path:
    """Clip folders of a zh room and an en room, and two tiny platform profiles (one per language)."""
    source = tmp_path / "source.mp4"
    make_mp4(source)
    root = tmp_path / "clips"
    rooms = {
        "desk-zh": [("zh-1", "price_promotion", "真丝连衣裙｜今天只要九十九", XSS_TRANSCRIPT, 0.4, ZH_CUES, []),
                    ("zh-2", "fabric_material", "面料｜真丝", "这款面料是真丝的，全网最低价", 0.8, ZH_CUES,
                     [{"kind": "absolute_claim", "rule": "absolute_terms", "term": "全网最低价", "start": 10, "end": 15,
                       "severity": "critical", "suggestion": "说具体价格和优惠"}])],
        "desk-en": [("en-1", "fabric_material", "Silk dress | light and breathable",
                     "This silk dress is light and it breathes all day", 0.6, EN_CUES, [])],
    }
    for room, clips in rooms.items():
        for i, (clip_id, label, title, transcript, score, cues, compliance) in enumerate(clips):
            folder = root / room / clip_id
            folder.mkdir(parents=True)
            (folder / "clip.mp4").write_bytes(source.read_bytes())
            (folder / "clip.srt").write_text(to_srt(cues), encoding="utf-8")
            meta = {"room_id": room, "clip_id": clip_id, "status": "ready", "category": "apparel", "label": label,
                    "title": title, "transcript": transcript, "start_ms": 60_000 * (i + 1),
                    "end_ms": 60_000 * (i + 1) + 4000, "score": score, "hold": bool(compliance),
                    "compliance": compliance}
            (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for name, base in (("tiny_zh", "douyin"), ("tiny_en", "tiktok")):
        data = yaml.safe_load((BUILTIN_DIR / f"{base}.yaml").read_text(encoding="utf-8"))
        data.update(name=name, display_name=f"{name} ({base})")
        data["video"].update(width=180, height=320, fps=15, preset="ultrafast")
        data["duration"]["min_s"] = 1
        (profiles / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("LIVELENS_PROFILES_DIR", str(profiles))
    return root


def texts(driver, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def card(driver, clip_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"article.desk-clip[data-clip='{clip_id}']")


async def test_the_desk_in_a_browser_zh_and_en_rooms_trim_approve_export(desk_data, valkey, tmp_path):
    require_browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    redis.Redis.from_url(valkey.url).flushall()
    settings = Settings(_env_file=None, api_token=SecretStr(TOKEN), data_dir=tmp_path / "var",
                        clips=Settings().clips.model_copy(update={"out_dir": desk_data}))
    api = create_api(settings, valkey.url, kafka_bootstrap=None)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(api) as base:
        driver = await asyncio.to_thread(start_chromium, tmp_path / "chromium-profile")
        try:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
            # ---- sign in once, land on the room picker
            await asyncio.to_thread(sign_in, driver, base, TOKEN, "/dashboard/desk")
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#rooms a[data-room]"),
                                    "the room picker")
            assert sorted(e.get_attribute("data-room") for e in driver.find_elements(By.CSS_SELECTOR, "#rooms a")) == \
                ["desk-en", "desk-zh"]
            driver.find_element(By.CSS_SELECTOR, "#rooms a[data-room='desk-zh']").click()

            # ---- the zh room: a queue in Chinese, best-ranked pending clip first
            await asyncio.to_thread(wait_until, driver, lambda d: d.current_url == f"{base}/dashboard/desk/desk-zh"
                                    and d.find_elements(By.CSS_SELECTOR, "article.desk-clip"), "the zh queue")
            assert "token" not in driver.current_url
            assert driver.execute_script("return document.documentElement.lang") == "zh"
            assert [e.get_attribute("data-clip") for e in driver.find_elements(By.CSS_SELECTOR, "article.desk-clip")] == \
                ["zh-2", "zh-1"]  # no decisions yet: the clipper score orders the queue
            assert "排序依据: 切片评分" in driver.find_element(By.ID, "ranked-by").text
            assert texts(driver, "article[data-clip='zh-1'] .actions button") == ["通过", "不通过"]
            assert "卖点: 价格优惠" in card(driver, "zh-1").find_element(By.CSS_SELECTOR, ".selling-point").text
            flags = card(driver, "zh-2").find_element(By.CSS_SELECTOR, ".flags").text
            assert "全网最低价" in flags and "暂停自动发布" in flags
            platforms = [o.get_attribute("value") for o in Select(driver.find_element(By.ID, "platform")).options]
            assert {"tiny_zh", "douyin", "xiaohongshu"} <= set(platforms)  # the room's language's platforms only
            assert not {"tiny_en", "tiktok", "youtube_shorts"} & set(platforms)
            Select(driver.find_element(By.ID, "platform")).select_by_value("tiny_zh")
            # untrusted transcript text is text, never markup
            transcript = card(driver, "zh-1").find_element(By.CSS_SELECTOR, ".transcript")
            assert transcript.text == XSS_TRANSCRIPT
            assert driver.find_elements(By.CSS_SELECTOR, ".transcript *, main img, main script") == []
            assert driver.execute_script("return window.__xss") is None
            # the preview plays from /clips/... with the session cookie alone
            await asyncio.to_thread(wait_until, driver, lambda d: d.execute_script(
                "return document.querySelector(\"article[data-clip='zh-1'] video\").readyState >= 1"), "the preview", 30)
            src = card(driver, "zh-1").find_element(By.TAG_NAME, "video").get_attribute("src")
            assert src == f"{base}/clips/desk-zh/zh-1/clip.mp4"

            # ---- trim: far from a sentence end the cut lands on a word boundary, near one on the sentence
            for start_s, end_s in ((1.0, 2.3), (1.9, 2.5)):
                zh1 = card(driver, "zh-1")
                for css, value in ((".trim-start", start_s), (".trim-end", end_s)):
                    box = zh1.find_element(By.CSS_SELECTOR, css)
                    box.clear()
                    box.send_keys(str(value))
                zh1.find_element(By.CSS_SELECTOR, ".trim-button").click()
                want = snap_trim(ZH_CUES, int(start_s * 1000), int(end_s * 1000), 4000)
                shown = f"{want[0] / 1000:.2f}–{want[1] / 1000:.2f}"
                await asyncio.to_thread(wait_until, driver, lambda d: shown in card(d, "zh-1").find_element(
                    By.CSS_SELECTOR, ".trim-result").text, f"the trim snapped to {shown}")
                assert card(driver, "zh-1").find_element(By.CSS_SELECTOR, ".trim-start").get_attribute("value") == \
                    f"{want[0] / 1000:.2f}"
            assert want == (1700, 2700)

            # ---- approve one, reject the other: the queue shows the decisions
            card(driver, "zh-1").find_element(By.CSS_SELECTOR, "button.approve").click()
            await asyncio.to_thread(wait_until, driver, lambda d: card(d, "zh-1").get_attribute("data-status") == "approved",
                                    "the approval")
            card(driver, "zh-2").find_element(By.CSS_SELECTOR, "input.reason").send_keys("违规用语")
            card(driver, "zh-2").find_element(By.CSS_SELECTOR, "button.reject").click()
            await asyncio.to_thread(wait_until, driver, lambda d: card(d, "zh-2").get_attribute("data-status") == "rejected",
                                    "the rejection")
            stored = redis.Redis.from_url(valkey.url, decode_responses=True).hgetall("livelens:{desk-zh}:decisions")
            assert {k: json.loads(v)["decision"] for k, v in stored.items()} == {"zh-1": "approved", "zh-2": "rejected"}
            assert json.loads(stored["zh-2"])["reason"] == "违规用语"
            assert card(driver, "zh-2").find_element(By.CSS_SELECTOR, "input.reason").get_attribute("value") == "违规用语"
            driver.save_screenshot(str(SCREENSHOTS / "desk-zh.png"))

            # ---- export from the page: the zip holds the approved clip's render (trimmed) and the CSV
            link = driver.find_element(By.ID, "export")
            assert link.get_attribute("href") == f"{base}/api/rooms/desk-zh/export?platform=tiny_zh&approved=true"
            link.click()
            target = downloads / "desk-zh-tiny_zh.zip"
            deadline = time.time() + 180
            while not target.is_file() and time.time() < deadline:
                await asyncio.sleep(0.5)
            assert target.is_file(), f"no download after 180 s: {sorted(p.name for p in downloads.iterdir())}"
            with zipfile.ZipFile(target) as z:
                assert sorted(z.namelist()) == ["metadata.csv", "zh-1.jpg", "zh-1.mp4"]
                rows = list(csv.DictReader(io.StringIO(z.read("metadata.csv").decode("utf-8-sig"))))
                (tmp_path / "zh-1.mp4").write_bytes(z.read("zh-1.mp4"))
            assert [(r["clip_id"], r["decision"], r["platform"]) for r in rows] == [("zh-1", "approved", "tiny_zh")]
            assert (rows[0]["clip_start_ms"], rows[0]["clip_end_ms"]) == ("1700", "2700")
            assert rows[0]["title"] and "<img" not in rows[0]["title"]
            with av.open(str(tmp_path / "zh-1.mp4")) as c:
                assert (c.streams.video[0].width, c.streams.video[0].height) == (180, 320)

            # ---- the en room: same desk, English labels and platforms
            driver.get(f"{base}/dashboard/desk/desk-en")
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_elements(By.CSS_SELECTOR, "article.desk-clip")
                                    and d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1", "the en queue")
            assert driver.execute_script("return document.documentElement.lang") == "en"
            assert texts(driver, "article[data-clip='en-1'] .actions button") == ["Approve", "Reject"]
            assert "Selling point: Fabric / material" in card(driver, "en-1").find_element(By.CSS_SELECTOR, ".selling-point").text
            platforms = [o.get_attribute("value") for o in Select(driver.find_element(By.ID, "platform")).options]
            assert {"tiny_en", "tiktok", "youtube_shorts"} <= set(platforms) and "douyin" not in platforms
            assert card(driver, "en-1").find_element(By.CSS_SELECTOR, ".transcript").text.startswith("This silk dress")
            # ---- re-render one clip for a platform from the page
            Select(driver.find_element(By.ID, "platform")).select_by_value("tiny_en")
            card(driver, "en-1").find_element(By.CSS_SELECTOR, ".render-button").click()
            await asyncio.to_thread(wait_until, driver, lambda d: "rendered tiny_en:" in card(d, "en-1").find_element(
                By.CSS_SELECTOR, ".render-result").text, "the re-render", 180)
            render_meta = json.loads((desk_data / "desk-en" / "en-1" / "renders" / "tiny_en" / "meta.json").read_text())
            assert render_meta["platform"] == "tiny_en" and render_meta["title"] in card(driver, "en-1").text

            # ---- a clip cut while the editor works is offered over SSE, then shown on request
            new = desk_data / "desk-en" / "en-2"
            shutil.copytree(desk_data / "desk-en" / "en-1", new)
            meta = json.loads((new / "meta.json").read_text())
            (new / "meta.json").write_text(json.dumps({**meta, "clip_id": "en-2", "title": "Grab yours now",
                                                       "start_ms": 200_000, "end_ms": 204_000}))
            clip = Clip(room_id="desk-en", stream_ms=204_000, clip_id="en-2", status="ready", start_ms=200_000,
                        end_ms=204_000, title="Grab yours now", score=0.5)
            sink = RedisSink(valkey.url)
            try:
                deadline = time.time() + 60
                while not driver.find_element(By.ID, "new-clips").is_displayed() and time.time() < deadline:
                    # a fresh event id each time: published until the page's SSE feed has subscribed
                    await sink.write(clip.model_copy(update={"event_id": uuid.uuid4().hex}))
                    await asyncio.sleep(0.5)
            finally:
                await sink.close()
            button = driver.find_element(By.ID, "new-clips")
            assert button.is_displayed() and "(1)" in button.text
            assert not driver.find_elements(By.CSS_SELECTOR, "article[data-clip='en-2']")  # offered, not forced
            button.click()
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_elements(By.CSS_SELECTOR, "article[data-clip='en-2']"),
                                    "the new clip in the queue")
            driver.save_screenshot(str(SCREENSHOTS / "desk-en.png"))

            # ---- sign out: the session is gone, the desk sends the browser back to sign in
            driver.find_element(By.ID, "signout").click()
            await asyncio.to_thread(wait_until, driver, lambda d: d.current_url.startswith(f"{base}/signin"), "the sign-in page")
            driver.get(f"{base}/dashboard/desk/desk-en")
            await asyncio.to_thread(wait_until, driver, lambda d: d.current_url.startswith(f"{base}/signin?next="),
                                    "the redirect to sign in")
            assert driver.execute_script("return window.__xss") is None
        finally:
            driver.quit()
