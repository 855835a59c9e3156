"""Latency and memory of one model, measured in a fresh process so that its peak RSS counts only what
that model needs (the ONNX classifier's process never imports torch).

Kinds: ``classifier`` (the served ``Classifier.predict``: clean-up, ONNX int8, calibration,
out-of-scope decision, entities), ``multilingual`` (the same for Spanish: the multilingual head reads
the intent, the ONNX model the rest), ``onnx`` (a model folder's ``model.int8.onnx`` alone), ``torch`` (its
``torch/`` weights), and the baselines ``tfidf_lr``, ``bilstm``, ``frozen_minilm_lr``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["measure_in_subprocess", "model_meta"]


def model_meta(folder: Path) -> dict[str, Any]:
    """``classifier.json`` (a served classifier) or ``bench.json`` (a benchmark model)."""
    for name in ("classifier.json", "bench.json"):
        if (folder / name).exists():
            meta: dict[str, Any] = json.loads((folder / name).read_text())
            return meta
    raise FileNotFoundError(f"{folder}: no classifier.json or bench.json")


def _runner(kind: str, folder: Path, threads: int) -> Callable[[Sequence[str]], object]:
    if kind in ("classifier", "multilingual"):
        from classifiers.inference import Classifier

        classifier = Classifier(folder, threads=threads)
        if kind == "classifier":
            return classifier.predict
        if classifier.multilingual is None:
            raise FileNotFoundError(f"{folder}: no multilingual head (re-run `concierge train`)")

        def run_spanish(texts: Sequence[str]) -> object:
            return classifier.predict(texts, language="es")

        return run_spanish
    if kind == "onnx":
        import onnxruntime as ort

        from classifiers.tokenization import encode_batch, load_tokenizer

        meta = model_meta(folder)
        tokenizer = load_tokenizer(folder, int(meta["max_length"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(
            str(folder / meta.get("onnx", "model.int8.onnx")),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )

        def run_onnx(texts: Sequence[str]) -> object:
            ids, mask = encode_batch(tokenizer, texts)
            return session.run(None, {"input_ids": ids, "attention_mask": mask})

        return run_onnx
    if kind == "torch":
        import torch

        from classifiers.modeling import ConciergeModel
        from classifiers.tokenization import encode_batch, load_tokenizer

        torch.set_num_threads(threads)
        meta = model_meta(folder)
        tokenizer = load_tokenizer(folder, int(meta["max_length"]))
        model = ConciergeModel.from_pretrained(folder / "torch")

        def run_torch(texts: Sequence[str]) -> object:
            ids, mask = encode_batch(tokenizer, texts)
            with torch.inference_mode():
                return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))

        return run_torch
    from classifiers.baselines import load_baseline

    if kind in ("bilstm", "frozen_minilm_lr"):
        import torch

        torch.set_num_threads(threads)
    baseline = load_baseline(kind, folder)
    return baseline.predict_proba


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space, which ``exec``
    replaces; ``ru_maxrss`` would carry over the parent's peak into a spawned child on Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(
    kind: str, folder: str, texts: list[str], threads: int, queue: multiprocessing.Queue[Any]
) -> None:
    try:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        start = time.perf_counter()
        run = _runner(kind, Path(folder), threads)
        load_s = time.perf_counter() - start
        for text in texts[:10]:
            run([text])
        singles = []
        for text in texts[:300]:
            t0 = time.perf_counter()
            run([text])
            singles.append(time.perf_counter() - t0)
        batches = []
        for i in range(15):
            batch = texts[(i * 32) % max(1, len(texts) - 32) :][:32]
            t0 = time.perf_counter()
            run(batch)
            batches.append((time.perf_counter() - t0) / len(batch))
        singles.sort()
        queue.put(
            {
                "load_s": round(load_s, 2),
                "batch1_p50_ms": round(statistics.median(singles) * 1000, 3),
                "batch1_p95_ms": round(singles[int(0.95 * (len(singles) - 1))] * 1000, 3),
                "batch32_ms_per_msg": round(statistics.median(batches) * 1000, 3),
                "batch32_msg_per_s": round(1 / statistics.median(batches), 1),
                "peak_rss_mb": _peak_rss_mb(),
                "threads": threads,
            }
        )
    except BaseException as exc:  # reported to the parent
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def measure_in_subprocess(
    kind: str, folder: Path, texts: Sequence[str], *, threads: int = 1, timeout: float = 900
) -> dict[str, Any]:
    """Load the model in a fresh (spawned) process, time batch-1 and batch-32 calls, and report the
    process's peak RSS (load included)."""
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[Any] = ctx.Queue()
    process = ctx.Process(target=_child, args=(kind, str(folder), list(texts), threads, queue))
    process.start()
    try:
        result: dict[str, Any] = queue.get(timeout=timeout)
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    return result
