"""Arithmetic for the model (price differences, totals): a safe evaluator, never ``eval``."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

from tools.context import ToolContext
from tools.errors import InvalidArgumentError
from tools.registry import register

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise InvalidArgumentError("Only numbers, + - * / and parentheses are allowed.")
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    raise InvalidArgumentError("Only numbers, + - * / and parentheses are allowed.")


@register("generic", "calculator")
def calculate(ctx: ToolContext, expression: str) -> str:
    """Calculate the result of a mathematical expression, rounded to 2 decimals.

    Args:
        expression: The mathematical expression to calculate, such as '2 + 2'. The expression can
            contain numbers, operators (+, -, *, /), parentheses, and spaces.
    """
    if len(expression) > 500:
        raise InvalidArgumentError("The expression is too long.")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        value = _evaluate(tree)
    except SyntaxError as exc:
        raise InvalidArgumentError(f"'{expression}' is not a valid expression.") from exc
    except ZeroDivisionError as exc:
        raise InvalidArgumentError("Division by zero.") from exc
    except (OverflowError, RecursionError) as exc:
        raise InvalidArgumentError("The numbers are too large to calculate with.") from exc
    if not math.isfinite(value):
        raise InvalidArgumentError("The numbers are too large to calculate with.")
    return str(round(value, 2))


ALL_TOOLS = [calculate]
