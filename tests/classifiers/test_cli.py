from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from classifiers.oos import METHODS

runner = CliRunner()


def test_train_and_bench_are_registered() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "train" in result.output
    result = runner.invoke(app, ["bench", "--help"])
    assert "classifiers" in result.output
    result = runner.invoke(app, ["train", "--help"])
    assert "--quick" in result.output and "--full" in result.output and "--data" in result.output


def test_train_refuses_both_modes() -> None:
    result = runner.invoke(app, ["train", "--quick", "--full"])
    assert result.exit_code != 0 and "choose one" in result.output


def test_train_reports_a_malformed_shop_file(tmp_path: Path) -> None:
    bad = tmp_path / "shop.jsonl"
    bad.write_text('{"text": "hi", "intent": "not_an_intent"}\n')
    result = runner.invoke(
        app, ["train", "--quick", "--data", str(bad), "--output", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "shop.jsonl, line 1" in result.output and "not in the taxonomy" in result.output


def test_bench_rejects_unknown_names() -> None:
    result = runner.invoke(app, ["bench", "classifiers", "--tasks", "imdb"])
    assert result.exit_code != 0 and "imdb" in result.output
    result = runner.invoke(app, ["bench", "classifiers", "--ablations", "pruning"])
    assert result.exit_code != 0 and "pruning" in result.output


def test_train_if_missing_keeps_an_existing_model(tmp_path: Path) -> None:
    (tmp_path / "classifier.json").write_text("{}")
    result = runner.invoke(app, ["train", "--quick", "--if-missing", "--output", str(tmp_path)])
    assert result.exit_code == 0 and "leaving it as it is" in result.output


def test_bench_oos_compares_the_scores(tmp_path: Path) -> None:
    out = tmp_path / "oos.json"
    result = runner.invoke(
        app, ["bench", "oos", "--smoke", "--cache", str(tmp_path / "cache"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    for method in METHODS:
        test = report[method]["test"]
        assert 0.0 <= test["in_scope_accuracy"] <= 1.0 and 0.0 <= test["oos_recall"] <= 1.0
    assert report["class"]["threshold"] is None
    # The table (its headers wrap in an 80-column terminal).
    assert "mahalanobis" in result.output and "OOS" in result.output and "recall" in result.output
