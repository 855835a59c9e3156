"""Runs ``llama_cpp.server`` for ``LocalLLMServer``: executed as a script (``python -P <this file>
--model ...``, the server's own arguments), never imported, so the server process loads nothing of
concierge.

Two additions to the stock server:

- a watchdog thread ends the server when its parent is gone, so a concierge killed with SIGKILL
  (where ``atexit`` never runs) leaves no server behind;
- chat requests honour ``max_completion_tokens``: OpenAI clients (langchain-openai among them) send
  it instead of the deprecated ``max_tokens``, which is all llama-cpp-python 0.3.x reads, so without
  this a length limit is ignored and a reply can run on to the end of the context window.
"""

from __future__ import annotations

import os
import runpy
import threading
import time
from typing import Any

from pydantic import model_validator


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _honour_max_completion_tokens() -> None:
    # Must run before llama_cpp.server.app is imported: its routes read the request model then.
    from llama_cpp.server import types

    base: Any = types.CreateChatCompletionRequest

    class CreateChatCompletionRequest(base):  # type: ignore[misc]
        @model_validator(mode="before")
        @classmethod
        def _max_tokens_from_max_completion_tokens(cls, data: Any) -> Any:
            if isinstance(data, dict) and data.get("max_tokens") is None:
                limit = data.get("max_completion_tokens")
                if limit is not None:
                    return {**data, "max_tokens": limit}
            return data

    types.CreateChatCompletionRequest = CreateChatCompletionRequest  # type: ignore[misc]


def main() -> None:
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    _honour_max_completion_tokens()
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
