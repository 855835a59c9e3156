"""The load benchmark end to end: a real ``concierge serve`` subprocess on a scratch demo shop, five
simulated customers over loopback, and the report it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from evals.bench_load import main

if TYPE_CHECKING:
    from classifiers.pipeline import TrainResult


def test_five_customers_get_every_answer(tmp_path: Path, tiny_model: TrainResult) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "classifier").symlink_to(Path(tiny_model.folder).resolve())
    out = tmp_path / "load.json"

    report = main(
        customers=5, turns=4, out=str(out), think_s=0.2, ramp_s=0.5, max_s=120, model_dir=models
    )

    assert report["errors"] == 0, report["errors_by_kind"]
    assert report["turns_answered"] == 20
    assert report["server_ready"]["ready"] is True, report["server_ready"]
    assert 1 <= report["concurrency"]["conversations_peak"] <= 5
    assert 1 <= report["concurrency"]["in_flight_peak"] <= 5
    lat = report["latency_s"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"] < 30
    assert report["turns_per_s"] > 0
    assert json.loads(out.read_text())["none"] == report
