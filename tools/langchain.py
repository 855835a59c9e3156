"""The tools as LangChain tools, for an agent graph.

Each keeps its tau2 name and argument schema; the caller's ``ToolContext`` is never an argument the model
sees: it comes from the graph run's context (``ToolRuntime.context``), which the agent builds from
conversation state. Tool errors come back as short messages the model can act on.
"""

from __future__ import annotations

from typing import Any

from langchain.tools import ToolRuntime
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import create_model

from tools.context import ToolContext
from tools.registry import ToolSpec, all_specs, args_model, describe, invoke


def _as_langchain(spec: ToolSpec) -> BaseTool:
    def run(runtime: ToolRuntime[ToolContext], **arguments: Any) -> str:
        ctx = runtime.context
        if not isinstance(ctx, ToolContext):
            raise TypeError("Run the agent graph with a ToolContext as its context.")
        outcome = invoke(ctx, spec.name, arguments)
        if not outcome.ok:
            # Reported back to the model as the tool's answer, marked status="error".
            raise ToolException(outcome.text)
        return outcome.text

    # The schema the model sees lists only the tool's own arguments; ``runtime`` is injected by the
    # graph's tool node and hidden from the model by LangChain.
    schema = create_model(
        f"{spec.name}_call",
        __base__=args_model(spec.name),
        runtime=(ToolRuntime[ToolContext], ...),
    )
    description, _ = describe(spec.name)
    return StructuredTool.from_function(
        func=run,
        name=spec.name,
        description=description,
        args_schema=schema,
        infer_schema=False,
        handle_tool_error=True,
    )


def langchain_tools(names: list[str] | None = None) -> list[BaseTool]:
    """LangChain tools for ``names`` (default: every registered tool)."""
    specs = all_specs()
    if names is not None:
        wanted = set(names)
        specs = [s for s in specs if s.name in wanted]
    return [_as_langchain(s) for s in specs]
