"""The demo's per-room report: the explain-next recommendation with its evidence, and the latest forecast."""

from __future__ import annotations

import json

from livelens import demo


def _room_dir(tmp_path, lang: str):
    (tmp_path / "script.json").write_text(json.dumps({"lang": lang, "sentences": [
        {"text": "这款面料很舒服", "start": 0.0, "end": 2.0, "label": "fabric_material"}]}), encoding="utf-8")
    return tmp_path


def _events():
    explain = {"rec_type": "explain_next", "stream_ms": 120_000, "message_zh": "下一个讲「面料材质」：讲完后成交比平时高40%",
               "message_en": "Explain Fabric material next", "evidence": {
                   "label": "fabric_material", "uplift": 0.4, "uplift_lo": 0.1, "uplift_hi": 0.8,
                   "minutes_since_explained": 6.0, "top_question": "", "room_top_question": "我160穿什么码",
                   "fusion_why_zh": "讲解 +22%，弹幕 +5%", "fusion_why_en": "pitch +22%, chat +5%"}}
    point = {"mean": 812.0, "lo80": 700.0, "hi80": 930.0, "enough_data": True}
    forecast = {"kind": "forecast", "stream_ms": 900_000, "enough_data": True,
                "viewers": [{"horizon_min": h, **point} for h in (5, 15, 45)],
                "orders_per_min": [{"horizon_min": 5, "mean": 2.5, "lo80": 0.5, "hi80": 4.5}], "gmv": []}
    rule = {"rec_type": "explain_size_fit", "stream_ms": 60_000, "message_zh": "讲尺码", "message_en": "size", "evidence": {}}
    return {"transcript": [], "selling_point": [], "clip": [], "recommendation": [rule, explain], "forecast": [forecast]}


def test_the_report_carries_explain_next_with_evidence_and_the_latest_forecast(tmp_path, capsys):
    report = demo.room_report(_room_dir(tmp_path, "zh"), _events())
    x = report["explain_next"]
    assert x["label"] == "fabric_material" and x["message"].startswith("下一个讲")
    assert (x["uplift_lo"], x["uplift"], x["uplift_hi"]) == (0.1, 0.4, 0.8)
    assert x["top_question"] == "我160穿什么码"  # the room's top question when the class's own is empty
    assert report["forecast"]["viewers"][1] == (15, 812.0, 700.0, 930.0)
    demo.console.width = 200
    demo._print_room_report("sample-zh", report)
    out = capsys.readouterr().err
    assert "下一个讲" in out and "+40%" in out and "6 min ago" in out and "我160穿什么码" in out
    assert "15 min 812 [700–930]" in out
    assert "why (fusion)" in out and "讲解 +22%，弹幕 +5%" in out  # the zh room's why


def test_an_en_room_gets_the_why_in_english(tmp_path, capsys):
    report = demo.room_report(_room_dir(tmp_path, "en"), _events())
    assert report["explain_next"]["why"] == "pitch +22%, chat +5%"
    demo.console.width = 200
    demo._print_room_report("sample-en", report)
    assert "pitch +22%, chat +5%" in capsys.readouterr().err


def test_a_room_without_either_says_so(tmp_path, capsys):
    report = demo.room_report(_room_dir(tmp_path, "en"), {"transcript": [], "recommendation": []})
    assert report["explain_next"] is None and report["forecast"] is None
    demo._print_room_report("sample-en", report)
    out = capsys.readouterr().err
    assert "no explain_next" in out and "no forecast" in out


def _point(text: str, labels: list[str], product: tuple[str, str, str] = ("", "", "")) -> dict:
    return {"kind": "selling_point", "category": "apparel", "label": labels[0] if labels else "chit_chat",
            "chit_chat": not labels, "closed": True, "start_ms": 0, "end_ms": 2_000, "text": text,
            "labels": [{"class": c, "score": 0.8, "start": 0, "end": len(text)} for c in labels],
            "product_id": product[0], "product_name_zh": product[1], "product_name_en": product[2]}


def test_the_report_shows_multi_label_selling_points_with_their_product_zh_and_en(tmp_path, capsys):
    dress = ("dress-01", "桑蚕丝中长款连衣裙", "Mulberry Silk Midi Dress")
    points = [_point("真丝面料", ["fabric_material"], dress),
              _point("纯棉的，垂感好，今天到手价99", ["fabric_material", "drape", "price_promotion"], dress)]
    report = demo.room_report(_room_dir(tmp_path, "zh"), {"selling_point": points})
    first = report["multi_label"][0]  # the sentence with the most classes first
    assert first["product"] == "桑蚕丝中长款连衣裙" and len(first["classes"]) == 3
    assert "面料材质" in first["classes"]
    demo.console.width = 200
    demo._print_room_report("sample-zh", report)
    assert "面料材质 + " in capsys.readouterr().err

    report = demo.room_report(_room_dir(tmp_path, "en"), {"selling_point": points})
    assert report["multi_label"][0]["product"] == "Mulberry Silk Midi Dress"
    demo._print_room_report("sample-en", report)
    assert "Mulberry Silk Midi Dress" in capsys.readouterr().err


def test_a_scripted_sentence_counts_as_found_by_any_class_of_an_overlapping_point(tmp_path):
    # one final spanning two of the host's sentences: its second class finds the second sentence
    (tmp_path / "script.json").write_text(json.dumps({"lang": "zh", "sentences": [
        {"text": "纯棉的", "start": 0.0, "end": 1.0, "label": "fabric_material"},
        {"text": "垂感好", "start": 1.0, "end": 2.0, "label": "drape"},
        {"text": "今天到手价99", "start": 5.0, "end": 6.0, "label": "price_promotion"}]}), encoding="utf-8")
    point = _point("纯棉的，垂感好", ["fabric_material", "drape"])  # spans 0–2 s
    report = demo.room_report(tmp_path, {"selling_point": [point]})
    assert (report["selling_found"], report["selling_sentences"]) == (2, 3)  # not the price sentence at 5 s
    assert demo.room_report(tmp_path, {"selling_point": [_point("纯棉的，垂感好", ["fabric_material"])]})[
        "selling_found"] == 1  # a class the point lacks is not found


def test_render_progress_counts_the_newest_revision_of_each_clip():
    from livelens.demo import render_progress

    clips = [
        {"clip_id": "a", "revision": 0, "pending": ["vertical", "render:douyin"], "files": {"mp4": "x"}},
        {"clip_id": "a", "revision": 2, "pending": [], "files": {"render:douyin": "u", "render:douyin:cover": "c"}},
        {"clip_id": "a", "revision": 1, "pending": ["render:douyin"], "files": {}},  # redelivered late: older
        {"clip_id": "b", "revision": 1, "pending": ["render:douyin"], "files": {}},
        {"clip_id": "c", "revision": 2, "pending": [], "files": {}, "reason": "merged; no douyin render: too short"},
        {"clip_id": "d", "revision": 1, "pending": [], "files": {"mp4": "x"}},  # no platforms asked for
        {"clip_id": "e", "revision": 3, "pending": ["render:tiktok:v2"],  # the clip matrix: variants count too
         "files": {"render:tiktok": "u", "render:tiktok:v1": "u", "render:tiktok:v1:cover": "c"}},
    ]
    assert render_progress(clips) == (4, 6)  # a and e's two rendered, c given up; b and e's v2 still rendering
    assert render_progress([]) == (0, 0)
