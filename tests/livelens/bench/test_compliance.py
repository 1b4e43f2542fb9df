"""``livelens bench compliance``: the figures it reports are computed from the labelled files."""

from __future__ import annotations

import json

from livelens.bench import compliance as bench


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_scores_detector_and_keyword_list_on_held_out_and_tuning_sets(tmp_path):
    tuning, held_out = tmp_path / "tuning.jsonl", tmp_path / "held_out.jsonl"
    _write(tuning, [
        {"text": "全网最低", "kinds": ["absolute_term"], "source": "written", "lang": "zh"},
        {"text": "这是最新款", "kinds": [], "source": "hard_negative", "lang": "zh"},
    ])
    _write(held_out, [
        {"text": "全.网.最.低", "kinds": ["absolute_term"], "source": "evasion", "lang": "zh"},  # same skeleton: dropped
        {"text": "加 微 信", "kinds": ["diversion"], "source": "evasion", "lang": "zh"},
        {"text": "第一次来的宝宝", "kinds": [], "source": "hard_negative", "lang": "zh"},
        {"text": "It cures everything", "kinds": ["efficacy_claim"], "source": "written", "lang": "en"},
    ])
    result = bench.run(tuning, held_out, min_cpu_s=0.01, shared_dir=tmp_path / "no-shared-data")
    assert result["lines"] == {"tuning": 2, "held_out": 3, "held_out_near_duplicates_dropped": 1}
    det, base = result["detector"]["held_out"], result["keyword_baseline"]["held_out"]
    assert det["overall"]["recall"] == 1.0 and det["overall"]["precision"] == 1.0
    # the keyword list misses the spaced 微信 and flags 第一次 (its term 第一 is a substring)
    assert base["per_kind"]["diversion"]["fn"] == 1
    assert base["per_kind"]["absolute_term"]["fp"] == 1
    assert det["evasions_caught"] == "1/1" and base["evasions_caught"] == "0/1"
    assert result["detector"]["lines_per_second_one_core"] > 0
    assert "skipped" in result["real_reviews_unseen"]
    assert result["misses_held_out"] == []


def test_shipped_sets_are_valid_and_large_enough():
    tuning = bench.load_examples(bench.TUNING_FILE)
    held_out = bench.load_examples(bench.HELDOUT_FILE)
    assert len(tuning) + len(held_out) >= 300
    for examples in (tuning, held_out):
        sources = {e.source for e in examples}
        assert sources == {"written", "evasion", "hard_negative"}
        assert {e.lang for e in examples} == {"zh", "en"}
