"""The calculator: arithmetic for the model, never ``eval``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.calculator import calculate
from tools.context import ToolContext
from tools.errors import InvalidArgumentError
from tools.registry import invoke
from tools.store import Store


@pytest.fixture(scope="module")
def ctx() -> Iterator[ToolContext]:
    # The calculator never touches the store; an unopened in-memory one stands in.
    store = Store("sqlite://")
    yield ToolContext(store)
    store.dispose()


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        ("2 + 2", "4.0"),
        ("10 - 12.5", "-2.5"),
        ("3 * 4", "12.0"),
        ("10 / 4", "2.5"),
        ("1 / 3", "0.33"),
        ("(1 + 2) * 3", "9.0"),
        ("1 + 2 * 3", "7.0"),
        ("-(4 - 6) / (1 + 1)", "1.0"),
        ("  159.78 - 137.17 ", "22.61"),
    ],
)
def test_arithmetic(ctx: ToolContext, expression: str, result: str) -> None:
    assert calculate(ctx, expression) == result


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "abs(-2)",
        "price * 2",
        "(1).__class__",
        "2 ** 10",
        "7 // 2",
        "7 % 2",
        "'a' * 3",
        "[1, 2]",
        "1 if True else 2",
        "True + 1",
        "1j * 2",
        "1; 2",
        "",
        "1 +",
    ],
)
def test_anything_but_arithmetic_is_refused(ctx: ToolContext, expression: str) -> None:
    with pytest.raises(InvalidArgumentError):
        calculate(ctx, expression)


def test_division_by_zero_is_refused(ctx: ToolContext) -> None:
    with pytest.raises(InvalidArgumentError, match="zero"):
        calculate(ctx, "1 / (2 - 2)")


def test_overlong_expression_is_refused(ctx: ToolContext) -> None:
    with pytest.raises(InvalidArgumentError, match="too long"):
        calculate(ctx, "+".join(["1"] * 300))


def test_refusal_reaches_the_model_as_text(ctx: ToolContext) -> None:
    outcome = invoke(ctx, "calculate", {"expression": "__import__('os')"})

    assert not outcome.ok
    assert outcome.text == "Error: Only numbers, + - * / and parentheses are allowed."


def test_number_too_large_is_refused(ctx: ToolContext) -> None:
    outcome = invoke(ctx, "calculate", {"expression": "9" * 400})

    assert isinstance(outcome.error, InvalidArgumentError)
