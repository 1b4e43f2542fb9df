"""``livelens bench understanding --data DIR --json`` on a tiny folder laid out like ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from livelens.bench import understanding


def _data(folder: Path) -> Path:
    (folder / "sentiment").mkdir(parents=True)
    (folder / "emotion").mkdir()
    (folder / "selling_points").mkdir()
    rows = ["cat,label,review"]
    for i in range(200):  # enough that the hashed held-out split is not empty
        rows += [f"衣服,1,质量很好很喜欢，第{i}次回购", f"衣服,0,质量太差了要退货{i}"]
    (folder / "sentiment" / "reviews.csv").write_text("\n".join(rows), encoding="utf-8")
    posts = [json.dumps({"id": i, "content": f"{text}{i}", "label": label}, ensure_ascii=False)
             for i in range(30) for text, label in [("今天好开心", "happiness"), ("好难过", "sadness")]]
    (folder / "emotion" / "posts.jsonl").write_text("\n".join(posts), encoding="utf-8")
    (folder / "selling_points" / "x.sample").write_text(
        "c1\ts1\t纯棉衫\t<材质>纯棉</材质>衫\nc2\ts2\t修身衬衫\t<版型>修身</版型>衬衫\n", encoding="utf-8")
    return folder


def test_bench_json_report(tmp_path):
    app = typer.Typer()
    understanding.register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer from collapsing the group
    result = CliRunner().invoke(app, ["understanding", "--data", str(_data(tmp_path)), "--json", "--per-category", "20",
                                      "--no-cost"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    clothing = next(r for r in report["sentiment"]["rows"] if r["category"] == "衣服")
    assert clothing["n"] > 0 and 0 <= clothing["livelens_acc"] <= 1 and 0 <= clothing["snownlp_acc"] <= 1
    assert report["emotion"]["rows"][0]["macro_f1"] is not None
    models = report["selling_points"]["models"]
    assert all(0 <= m["top1_in_gold"] <= 1 for m in models.values())
    assert report["command"].startswith("livelens bench understanding")
    # the unseen-category table: every 衣服 review, three models on the same reviews
    unseen = report["unseen"]
    assert unseen["category"] == "衣服" and unseen["n_test"] == 400
    assert len(unseen["rows"]) == 3 and all(0 <= r["accuracy"] <= 1 for r in unseen["rows"])
    # intents come from the shipped held-out file, per language, with the lexicon baseline beside
    rows = {r["lang"]: r for r in report["intents"]["rows"]}
    assert set(rows) == {"zh", "en", "mixed", "all"}
    assert rows["zh"]["n"] + rows["en"]["n"] + rows["mixed"]["n"] == rows["all"]["n"] >= 200
    assert all(0 <= r["livelens_macro_f1"] <= 1 and 0 <= r["lexicon_macro_f1"] <= 1 for r in rows.values())
