"""Tool metadata: every tool function is registered with its kind (read, write, generic) and family."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from tools.errors import InvalidArgumentError, ToolError, model_message

if TYPE_CHECKING:
    from tools.context import ToolContext

ToolKind = Literal["read", "write", "generic"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ToolSpec:
    name: str
    func: Callable[..., Any]
    kind: ToolKind
    family: str


_SPECS: dict[str, ToolSpec] = {}


def register(kind: ToolKind, family: str) -> Callable[[F], F]:
    """Mark a function as a tool. Its first parameter is the ``ToolContext``; the rest are its arguments."""

    def decorate(func: F) -> F:
        _SPECS[func.__name__] = ToolSpec(func.__name__, func, kind, family)
        return func

    return decorate


def spec(name: str) -> ToolSpec:
    """The registered tool called ``name`` (``KeyError`` if there is none)."""
    return _SPECS[name]


def all_specs() -> list[ToolSpec]:
    return list(_SPECS.values())


_ARG_LINE = re.compile(r"^    (\w+):\s*(.+)$")


def describe(name: str) -> tuple[str, dict[str, str]]:
    """A tool's description and its arguments' descriptions, read from its docstring."""
    doc = inspect.getdoc(spec(name).func) or ""
    summary, _, args_block = doc.partition("Args:")
    arg_docs: dict[str, str] = {}
    current: str | None = None
    for line in args_block.splitlines():
        match = _ARG_LINE.match(line)
        if match:
            current = match.group(1)
            arg_docs[current] = match.group(2).strip()
        elif current is not None and line.startswith("        "):
            # A wrapped description continues on deeper-indented lines.
            arg_docs[current] += " " + line.strip()
    return " ".join(summary.split()), arg_docs


@cache
def args_model(name: str) -> type[BaseModel]:
    """A pydantic model of the tool's arguments (everything after the context), for validation and
    for the JSON schema a model is shown."""
    func = spec(name).func
    hints = get_type_hints(func)
    _, arg_docs = describe(name)
    fields: dict[str, Any] = {}
    for param in list(inspect.signature(func).parameters.values())[1:]:
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (
            hints[param.name],
            Field(default, description=arg_docs.get(param.name)),
        )
    model: type[BaseModel] = create_model(
        f"{name}_args",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )
    return model


@dataclass(frozen=True)
class ToolOutcome:
    """What one tool call produced: its value, or the typed error it raised."""

    name: str
    arguments: dict[str, Any]
    value: Any = None
    error: ToolError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        """The result as the model reads it: JSON for values, a short message for errors."""
        if self.error is not None:
            return model_message(self.error)
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, ensure_ascii=False)


def invoke(ctx: ToolContext, name: str, arguments: dict[str, Any]) -> ToolOutcome:
    """Call the tool ``name`` with ``arguments`` (as a model or a person wrote them).

    The boundary where typed tool errors become short messages: unknown tools and wrong arguments are
    reported the same way, never raised.
    """
    try:
        tool = spec(name)
    except KeyError:
        err = InvalidArgumentError(f"There is no tool called '{name}'.")
        return ToolOutcome(name, arguments, error=err)
    try:
        parsed = args_model(name).model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
            for err in exc.errors()
        )
        return ToolOutcome(name, arguments, error=InvalidArgumentError(f"{name}: {problems}."))
    try:
        return ToolOutcome(name, arguments, value=tool.func(ctx, **parsed.model_dump()))
    except ToolError as exc:
        return ToolOutcome(name, arguments, error=exc)
