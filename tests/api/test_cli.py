from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app
from classifiers.pipeline import TrainResult
from tests.conftest import tau2_db_path
from tools.models import Product
from tools.settings import Settings, get_settings
from tools.store import Store

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_import_tau2_then_stats(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    code, out = invoke("shop", "import-tau2", str(tau2_db_path()), "--store", url)
    assert code == 0, out
    assert "50 products" in out and "500 customers" in out and "1000 orders" in out
    code, out = invoke("shop", "stats", "--store", url)
    assert code == 0, out
    assert "orders: pending" in out and "423" in out


def test_import_refuses_a_non_empty_store_unless_reset(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    assert invoke("shop", "import-tau2", str(tau2_db_path()), "--store", url)[0] == 0
    code, out = invoke("shop", "import-tau2", str(tau2_db_path()), "--store", url)
    assert code == 1 and "already has data" in out
    code, out = invoke(
        "shop", "import-tau2", str(tau2_db_path()), "--store", url, "--reset", "--yes"
    )
    assert code == 0 and "1000 orders" in out


def test_import_of_a_malformed_file_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "db.json"
    bad.write_text(json.dumps({"products": {}, "users": {}}))
    code, out = invoke("shop", "import-tau2", str(bad), "--store", f"sqlite:///{tmp_path}/s.db")
    assert code == 2
    assert "db.json" in out and "orders" in out


def test_seed_demo_is_idempotent_with_if_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    code, out = invoke("shop", "seed", "--demo", "--if-empty", "--store", url)
    assert code == 0 and "Seeded the demo shop" in out
    code, out = invoke("shop", "seed", "--demo", "--if-empty", "--store", url)
    assert code == 0 and "leaving it as it is" in out
    code, out = invoke("shop", "seed", "--demo", "--store", url)
    assert code == 1 and "--reset" in out


def test_shell_over_the_demo_shop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    assert invoke("shop", "seed", "--demo", "--store", url)[0] == 0
    code, out = invoke("shell", "--store", url, input="list_all_product_types\nquit\n")
    assert code == 0, out
    assert "concierge [not verified]>" in out
    store = Store(url)
    with store.read() as s:
        names = s.scalars(select(Product.name)).all()
    store.dispose()
    assert len(names) >= 20
    assert all(f'"{name}"' in out for name in names)


def test_no_arguments_shows_help() -> None:
    code, out = invoke()
    assert "shop" in out and "shell" in out and "bench" in out


@pytest.fixture
def serve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A ``concierge serve`` whose settings come from this test's environment, var/ in tmp_path."""
    for name in ("CONCIERGE_SHOP_SECRET", "CONCIERGE_ALLOW_PLACEHOLDER_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONCIERGE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)  # no developer .env
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


@pytest.mark.parametrize("secret", [None, "changethis"])
def test_serve_refuses_a_missing_or_placeholder_secret_outside_development(
    serve_env: Path, monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.setenv("CONCIERGE_ENVIRONMENT", "production")
    if secret:
        monkeypatch.setenv("CONCIERGE_SHOP_SECRET", secret)
    code, out = invoke("serve")
    assert code == 2, out
    assert "CONCIERGE_SHOP_SECRET is unset or a placeholder" in out
    assert "Traceback" not in out and not (serve_env / "shop_secret").exists()


def test_serve_names_an_unusable_secret_file(serve_env: Path) -> None:
    serve_env.mkdir()
    (serve_env / "shop_secret").write_text("changethis\n")
    code, out = invoke("serve")
    assert code == 2 and str(serve_env / "shop_secret") in out, out


def test_serve_in_development_generates_the_secret_and_says_where_it_is(
    serve_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Settings] = []
    # Everything after the secret is someone else's: no app, no server, no process-wide logging.
    monkeypatch.setattr("api.app.create_app", lambda settings: served.append(settings))
    monkeypatch.setattr("api.observability.configure_logging", lambda level: None)
    monkeypatch.setattr("uvicorn.run", lambda app, **options: None)
    code, out = invoke("serve")
    assert code == 0, out
    secret = (serve_env / "shop_secret").read_text().strip()
    assert str(serve_env / "shop_secret") in " ".join(out.split())
    assert secret not in out  # said where it is, never what it is
    assert served[0].shop_secret is not None
    assert served[0].shop_secret.get_secret_value() == secret


def test_eval_classifier_compares_against_an_earlier_model(
    tmp_path: Path, tiny_model: TrainResult
) -> None:
    out = tmp_path / "heldout.json"
    model = str(tiny_model.folder)
    code, text = invoke(
        "eval",
        "classifier",
        "--model",
        model,
        "--against",
        model,
        "--out",
        str(out),
        "--no-latency",
    )
    assert code == 0, text
    report = json.loads(out.read_text())
    assert "latency" not in report
    # No multilingual head: the ablation has the earlier model and this one, which agree exactly.
    ablation = report["ablation"]
    assert list(ablation) == ["earlier model", "this model"]
    spanish = ablation["this model"]["spanish_test"]
    assert spanish["accuracy"] == report["spanish_test"]["accuracy"]
    assert spanish["mcnemar_vs_reference"] == {"only_a": 0, "only_b": 0, "p_value": 1.0}

    code, text = invoke("eval", "classifier", "--model", str(tmp_path / "none"), "--no-latency")
    assert code == 2 and "no trained classifier" in text
