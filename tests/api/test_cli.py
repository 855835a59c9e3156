from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import tau2_db_path
from tools.models import Product
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
