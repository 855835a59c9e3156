"""``concierge bench classifiers``: the issue's Tables 1-4 (accuracy, latency, training cost, severity)
for six models on three datasets, McNemar tests, and two ablations (multi-task vs separate heads; the
knowledge-distillation student's initialisation and loss), written to ``reports/`` as JSON, HTML and
Markdown.

Seed paper 000 is not available here; the tables follow the issue's description of it.

Datasets (the same splits as ``concierge train --full``):
- ``bitext``: the training corpus of the served classifier; test = the Bitext 8k service set minus every
  text in the training pool; also our natural-wording set (``natural``), which no model trains on.
- ``banking77``: official train (10% held back for validation / calibration) and test.
- ``clinc150``: ``data_oos_plus`` train + oos_train (an ``oos`` class), val + oos_val, test + oos_test;
  every model also gets a probability threshold for out-of-scope, chosen on validation.

Trained artefacts and per-model results are cached under ``var/bench/classifiers`` so an interrupted
run resumes where it stopped (``--fresh`` starts over).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from classifiers.calibration import (
    apply_oos,
    choose_oos_threshold,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from classifiers.datasets import Example, load_banking77, load_clinc, split
from classifiers.metrics import classification_report, mcnemar, regression_report
from classifiers.training_args import Mode

__all__ = ["ABLATIONS", "MODELS", "TASKS", "BenchConfig", "run_benchmark"]

MODELS: Final = (
    "tfidf_lr",
    "bilstm",
    "frozen_minilm_lr",
    "minilm_torch",
    "minilm_onnx_int8",
    "student_onnx_int8",
)
MODEL_NAMES: Final = {
    "tfidf_lr": "TF-IDF + LR",
    "bilstm": "BiLSTM",
    "frozen_minilm_lr": "frozen MiniLM + LR",
    "minilm_torch": "fine-tuned MiniLM-L6 (torch fp32)",
    "minilm_onnx_int8": "fine-tuned MiniLM-L6 (ONNX int8)",
    "student_onnx_int8": "distilled 3-layer student (ONNX int8)",
}
TASKS: Final = ("bitext", "banking77", "clinc150")
ABLATIONS: Final = ("multitask", "distillation")
_EPOCHS: Final = {"bitext": 3.0, "banking77": 5.0, "clinc150": 3.0}
_ABLATION_EPOCHS: Final = 1.0
_BILSTM_EPOCHS: Final = {"bitext": 6, "banking77": 15, "clinc150": 10}
_MCNEMAR_PAIRS: Final = (
    ("minilm_torch", "minilm_onnx_int8"),
    ("minilm_onnx_int8", "student_onnx_int8"),
    ("minilm_onnx_int8", "frozen_minilm_lr"),
    ("minilm_onnx_int8", "tfidf_lr"),
    ("frozen_minilm_lr", "tfidf_lr"),
)


@dataclass(frozen=True)
class BenchConfig:
    data_dir: Path
    cache_dir: Path
    out_dir: Path
    tasks: tuple[str, ...] = TASKS
    models: tuple[str, ...] = MODELS
    ablations: tuple[str, ...] = ABLATIONS
    seed: int = 13
    threads: int = 1
    """Threads for the latency measurements (every model gets the same)."""
    smoke: bool = False
    """Tiny subsets and one epoch: checks the benchmark's code, not the models."""
    fresh: bool = False
    remeasure_latency: bool = False
    """Measure Table 2 again for cached models (e.g. once the machine is idle)."""
    served_model: Path | None = None
    """A ``concierge train --full`` model to reuse as the bitext fine-tuned model (same corpus)."""


@dataclass
class Task:
    name: str
    train: list[Example]
    val: list[Example]
    tests: dict[str, list[Example]]
    labels: list[str]
    oos: str | None = None
    severity_train: list[Example] = field(default_factory=list)
    severity_tests: dict[str, list[Example]] = field(default_factory=dict)
    corpus: Any = None


def _log(line: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {line}", flush=True)


def _subsample(rows: list[Example], n: int, seed: int) -> list[Example]:
    import random

    rng = random.Random(seed)
    return rows if len(rows) <= n else rng.sample(rows, n)


def build_task(name: str, config: BenchConfig) -> Task:
    data = config.data_dir
    if name == "bitext":
        from classifiers.corpus import build_corpus
        from classifiers.pipeline import corpus_config
        from classifiers.taxonomy import load_taxonomy

        taxonomy = load_taxonomy()
        mode: Mode = "test" if config.smoke else "full"
        corpus = build_corpus(corpus_config(mode, data, taxonomy, seed=config.seed))
        train = [e for e in corpus.splits.train if e.intent is not None]
        val = [e for e in corpus.splits.val if e.intent is not None]
        severity_tests = {
            "tickets_heldout": corpus.heldout.get("tickets_heldout", []),
            "severity_ours": [e for e in corpus.splits.test if e.source == "severity"],
        }
        return Task(
            name,
            train,
            val,
            {"test": corpus.heldout["bitext_8k"], "natural": corpus.heldout.get("natural", [])},
            list(taxonomy.intents),
            severity_train=[e for e in corpus.splits.train if e.severity is not None],
            severity_tests=severity_tests,
            corpus=corpus,
        )
    if name == "banking77":
        banking = load_banking77(data / "banking77")
        parts = split(banking["train"], (0.9, 0.1, 0.0), seed=config.seed)
        train, val, test = parts.train, parts.val, banking["test"]
        labels = sorted({e.intent or "" for e in banking["train"]})
        oos = None
    elif name == "clinc150":
        clinc = load_clinc(data / "clinc150" / "data_oos_plus.json")
        train = clinc["train"] + clinc["oos_train"]
        val = clinc["val"] + clinc["oos_val"]
        test = clinc["test"] + clinc["oos_test"]
        labels = sorted({e.intent or "" for e in train})
        oos = "oos"
    else:
        raise ValueError(f"unknown task {name!r}; choose from {TASKS}")
    if config.smoke:
        train, val, test = (
            _subsample(train, 600, 1),
            _subsample(val, 200, 2),
            _subsample(test, 300, 3),
        )
    return Task(name, train, val, {"test": test}, labels, oos=oos)


# --- model runs -------------------------------------------------------------------------------


@dataclass
class ModelRun:
    """What one trained model gives on a task: probabilities per evaluation set, severity, costs."""

    probs: dict[str, NDArray[np.float64]]
    labels: list[str]
    train_seconds: float
    epochs: float
    severity: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    folder: Path | None = None
    latency_kind: str | None = None
    temperature: float = 1.0
    notes: str = ""


def _texts(rows: Sequence[Example]) -> list[str]:
    return [r.text for r in rows]


def _eval_sets(task: Task) -> dict[str, list[Example]]:
    """Validation and test sets that have rows (smoke runs leave some empty)."""
    return {name: rows for name, rows in {"val": task.val, **task.tests}.items() if rows}


def _run_baseline(kind: str, task: Task, folder: Path, config: BenchConfig) -> ModelRun:
    from classifiers.baselines import BASELINES, BiLSTMBaseline, TfidfBaseline, timed_fit

    model = (
        BiLSTMBaseline(epochs=1 if config.smoke else _BILSTM_EPOCHS[task.name], seed=config.seed)
        if kind == "bilstm"
        else BASELINES[kind]()
    )
    rows = task.corpus.splits.train if task.corpus is not None else task.train
    seconds = timed_fit(model, _texts(rows), [e.intent for e in rows], [e.severity for e in rows])
    model.save(folder)
    probs = {
        name: _align(model.predict_proba(_texts(rows)), model.labels, task.labels)
        for name, rows in _eval_sets(task).items()
    }
    severity: dict[str, NDArray[np.float64]] = {}
    for name, rows in task.severity_tests.items():
        pred = model.predict_severity(_texts(rows)) if rows else None
        if pred is not None:
            severity[name] = pred
    if isinstance(model, TfidfBaseline):
        for name, rows in task.severity_tests.items():
            median = model.predict_severity_median(_texts(rows)) if rows else None
            if median is not None:
                severity[f"{name}:classes"] = median
    epochs = float(model.params["epochs"]) if isinstance(model, BiLSTMBaseline) else 1.0
    return ModelRun(probs, task.labels, seconds, epochs, severity, folder, kind)


def _align(
    probs: NDArray[np.float64], have: Sequence[str], want: Sequence[str]
) -> NDArray[np.float64]:
    """Columns reordered to ``want`` (a label a model never saw gets probability 0)."""
    out = np.zeros((len(probs), len(want)))
    position = {label: i for i, label in enumerate(have)}
    for j, label in enumerate(want):
        if label in position:
            out[:, j] = probs[:, position[label]]
    return out


def _write_bench_folder(
    model: Any, folder: Path, labels: list[str], max_length: int, temperature: float
) -> None:
    import shutil

    from classifiers.export import export_onnx, quantize_int8
    from classifiers.tokenization import TOKENIZER_FILES, base_model_path

    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder / "torch")
    fp32 = export_onnx(model, folder / "model.fp32.onnx")
    quantize_int8(fp32, folder / "model.int8.onnx")
    fp32.unlink()
    for name in TOKENIZER_FILES:
        shutil.copy(base_model_path() / name, folder / name)
    (folder / "bench.json").write_text(
        json.dumps(
            {
                "labels": labels,
                "max_length": max_length,
                "temperature": temperature,
                "onnx": "model.int8.onnx",
            }
        )
    )


def _onnx_outputs(
    folder: Path, texts: Sequence[str], threads: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Intent logits and severity of an ONNX model folder (batch 64, sorted by length)."""
    import onnxruntime as ort

    from classifiers.latency import model_meta
    from classifiers.tokenization import encode_batch, load_tokenizer

    meta = model_meta(folder)
    tokenizer = load_tokenizer(folder, int(meta["max_length"]))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(
        str(folder / meta.get("onnx", "model.int8.onnx")), options, ["CPUExecutionProvider"]
    )
    n = len(texts)
    order = sorted(range(n), key=lambda i: len(texts[i]))
    logits_out: NDArray[np.float32] | None = None
    severity_out = np.zeros(n, dtype=np.float32)
    for start in range(0, n, 64):
        idx = order[start : start + 64]
        ids, mask = encode_batch(tokenizer, [texts[i] for i in idx])
        logits, severity, _ = session.run(None, {"input_ids": ids, "attention_mask": mask})
        if logits_out is None:
            logits_out = np.zeros((n, logits.shape[1]), dtype=np.float32)
        logits_out[idx] = logits
        severity_out[idx] = severity
    if logits_out is None:
        logits_out = np.zeros((0, 0), dtype=np.float32)
    return logits_out, severity_out


def _finetune(
    task: Task,
    folder: Path,
    config: BenchConfig,
    *,
    student: str | None = None,
    teacher: Path | None = None,
    distill_alpha: float = 0.5,
    epochs: float | None = None,
) -> tuple[float, float]:
    """Fine-tune (or distil) a ConciergeModel on a task's intent rows; returns (seconds, epochs).

    Writes ``folder`` with torch weights, the ONNX int8 export and the validation temperature."""
    from classifiers.distill import student_from_l3, student_from_l6
    from classifiers.modeling import ConciergeModel
    from classifiers.tokenization import base_model_path, load_tokenizer
    from classifiers.trainer import Trainer, predict_outputs, seed_everything
    from classifiers.training_args import TrainingArguments

    if epochs is None:
        epochs = 1.0 if config.smoke else _EPOCHS[task.name]
    args = TrainingArguments.preset(
        "full", seed=config.seed, epochs=epochs, learning_rate=1e-4 if student is None else 2e-4
    )
    if task.name == "bitext":
        args = replace(args, max_length=128)
    else:
        args = replace(args, max_length=64, severity_weight=0.0, sentiment_weight=0.0)
    seed_everything(args.seed)
    if student == "l3":
        model = student_from_l3(len(task.labels))
    elif student == "l6_layers":
        model = student_from_l6(len(task.labels))
    else:
        model = ConciergeModel.from_base(len(task.labels))
    tokenizer = load_tokenizer(base_model_path(), args.max_length)
    rows = task.train if task.name != "bitext" else task.corpus.splits.train
    teacher_logits = None
    if teacher is not None:
        teacher_model = ConciergeModel.from_pretrained(teacher / "torch")
        _log(f"  teacher logits for {len(rows)} rows")
        teacher_logits = predict_outputs(teacher_model, tokenizer, _texts(rows)).intent_logits
        args = replace(args, distill_alpha=distill_alpha)
    index = {label: i for i, label in enumerate(task.labels)}
    trained = Trainer(
        model,
        args,
        rows,
        tokenizer=tokenizer,
        label_index=index,
        teacher_logits=teacher_logits,
        log=lambda line: _log(f"  {line}"),
    ).train()
    val_logits = predict_outputs(model, tokenizer, _texts(task.val)).intent_logits
    labels = np.array([index[str(e.intent)] for e in task.val])
    temperature = fit_temperature(val_logits, labels)
    _write_bench_folder(model, folder, task.labels, args.max_length, temperature)
    return trained.seconds, trained.epochs


def _torch_outputs(
    folder: Path, texts: Sequence[str]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    from classifiers.latency import model_meta
    from classifiers.modeling import ConciergeModel
    from classifiers.tokenization import load_tokenizer
    from classifiers.trainer import predict_outputs

    model = ConciergeModel.from_pretrained(folder / "torch")
    tokenizer = load_tokenizer(folder, int(model_meta(folder)["max_length"]))
    out = predict_outputs(model, tokenizer, texts)
    return out.intent_logits, out.severity


def _transformer_run(
    kind: str, task: Task, folder: Path, config: BenchConfig, train_cost: tuple[float, float]
) -> ModelRun:
    from classifiers.latency import model_meta

    temperature = float(model_meta(folder)["temperature"])
    probs: dict[str, NDArray[np.float64]] = {}
    severity: dict[str, NDArray[np.float64]] = {}
    for name, rows in _eval_sets(task).items():
        if kind == "torch":
            logits, _ = _torch_outputs(folder, _texts(rows))
        else:
            logits, _ = _onnx_outputs(folder, _texts(rows), config.threads)
        probs[name] = softmax(logits, temperature)
    for name, rows in task.severity_tests.items():
        if not rows:
            continue
        if kind == "torch":
            _, sev = _torch_outputs(folder, _texts(rows))
        else:
            _, sev = _onnx_outputs(folder, _texts(rows), config.threads)
        severity[name] = np.asarray(sev, dtype=np.float64)
    return ModelRun(
        probs, task.labels, train_cost[0], train_cost[1], severity, folder, kind, temperature
    )


def _served_model_usable(folder: Path | None, task: Task) -> bool:
    """The served full model was trained on exactly this corpus (same files, same splits)."""
    if folder is None or not (folder / "model_card.json").exists():
        return False
    card = json.loads((folder / "model_card.json").read_text())
    summary = task.corpus.summary() if task.corpus is not None else {}
    return bool(
        card.get("mode") == "full"
        and card.get("data", {}).get("splits") == summary.get("splits")
        and card.get("data", {}).get("sources") == json.loads(json.dumps(summary.get("sources")))
    )


def run_model(task: Task, model: str, config: BenchConfig) -> ModelRun:
    base = config.cache_dir / task.name
    if model in ("tfidf_lr", "bilstm", "frozen_minilm_lr"):
        return _run_baseline(model, task, base / model, config)
    teacher_folder = base / "minilm"
    cost_file = teacher_folder / "train_cost.json"
    if model in ("minilm_torch", "minilm_onnx_int8", "student_onnx_int8"):
        if not cost_file.exists():
            if task.name == "bitext" and _served_model_usable(config.served_model, task):
                assert config.served_model is not None
                _log(f"  reusing the served full model {config.served_model}")
                card = json.loads((config.served_model / "model_card.json").read_text())
                _link_served(config.served_model, teacher_folder)
                cost = (float(card["timings_s"]["train"]), float(card["training"]["epochs"]))
            else:
                _log(f"  fine-tuning MiniLM-L6 on {task.name}")
                cost = _finetune(task, teacher_folder, config)
            teacher_folder.mkdir(parents=True, exist_ok=True)
            cost_file.write_text(json.dumps({"seconds": cost[0], "epochs": cost[1]}))
        saved = json.loads(cost_file.read_text())
        teacher_cost = (float(saved["seconds"]), float(saved["epochs"]))
    if model == "minilm_torch":
        return _transformer_run("torch", task, teacher_folder, config, teacher_cost)
    if model == "minilm_onnx_int8":
        return _transformer_run("onnx", task, teacher_folder, config, teacher_cost)
    if model == "student_onnx_int8":
        return _student(task, config, "student", "l3", 0.5)
    raise ValueError(f"unknown model {model!r}")


def _student(
    task: Task,
    config: BenchConfig,
    name: str,
    init: str,
    alpha: float,
    *,
    epochs: float | None = None,
    folder: Path | None = None,
) -> ModelRun:
    base = config.cache_dir / task.name
    folder = folder or base / name
    cost_file = folder / "train_cost.json"
    if not cost_file.exists():
        _log(f"  distilling a 3-layer student ({init}, alpha={alpha}) on {task.name}")
        cost = _finetune(
            task,
            folder,
            config,
            student=init,
            teacher=base / "minilm",
            distill_alpha=alpha,
            epochs=epochs,
        )
        cost_file.write_text(json.dumps({"seconds": cost[0], "epochs": cost[1]}))
    saved = json.loads(cost_file.read_text())
    return _transformer_run(
        "onnx", task, folder, config, (float(saved["seconds"]), float(saved["epochs"]))
    )


def _link_served(served: Path, folder: Path) -> None:
    """A copy of the served model's files the benchmark reads (torch weights, ONNX, tokenizer)."""
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(served, folder)
    classifier = json.loads((folder / "classifier.json").read_text())
    (folder / "bench.json").write_text(
        json.dumps(
            {
                "labels": classifier["intents"],
                "max_length": classifier["max_length"],
                "temperature": classifier["temperature"],
                "onnx": classifier["onnx"],
            }
        )
    )


# --- scoring ----------------------------------------------------------------------------------


def _score(task: Task, run: ModelRun) -> dict[str, Any]:
    """Table-1 figures per evaluation set, with the per-row predictions kept for McNemar."""
    index = {label: i for i, label in enumerate(task.labels)}
    result: dict[str, Any] = {"train_seconds": round(run.train_seconds, 1), "epochs": run.epochs}
    threshold = 0.0
    if task.oos is not None:
        val_labels = np.array([index[str(e.intent)] for e in task.val])
        decision = choose_oos_threshold(run.probs["val"], val_labels, index[task.oos])
        threshold = decision.threshold
        result["oos_threshold"] = threshold
    for name, rows in task.tests.items():
        if not rows:
            continue
        probs = run.probs[name]
        labels = np.array([index[str(e.intent)] for e in rows])
        pred = (
            apply_oos(probs, index[task.oos], threshold)
            if task.oos is not None
            else probs.argmax(axis=1)
        )
        entry: dict[str, Any] = classification_report(labels, pred)
        entry["ece"] = expected_calibration_error(probs, labels)
        if task.oos is not None:
            oos = labels == index[task.oos]
            entry["in_scope_accuracy"] = float((pred[~oos] == labels[~oos]).mean())
            entry["oos_recall"] = float((pred[oos] == index[task.oos]).mean())
            entry["class_only"] = {
                "in_scope_accuracy": float((probs.argmax(1)[~oos] == labels[~oos]).mean()),
                "oos_recall": float((probs.argmax(1)[oos] == index[task.oos]).mean()),
            }
            entry["sweep"] = _sweep(probs, labels, index[task.oos])
        entry["correct"] = (pred == labels).astype(int).tolist()
        entry["predicted"] = [task.labels[i] for i in pred]
        result[name] = entry
    severity = {}
    for name, values in run.severity.items():
        truth = [float(e.severity or 0) for e in task.severity_tests[name.split(":")[0]]]
        severity[name] = regression_report(truth, values)
    if severity:
        result["severity"] = severity
    return result


def _sweep(probs: NDArray[np.float64], labels: NDArray[Any], oos: int) -> list[list[float]]:
    """(threshold, in-scope accuracy, OOS recall) on the test set, for the operating-point plot."""
    out = []
    for t in np.round(np.arange(0.0, 1.0, 0.02), 2):
        pred = apply_oos(probs, oos, float(t))
        is_oos = labels == oos
        out.append(
            [
                float(t),
                float((pred[~is_oos] == labels[~is_oos]).mean()),
                float((pred[is_oos] == oos).mean()),
            ]
        )
    return out


def _mcnemar_tables(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for a, b in _MCNEMAR_PAIRS:
        if a not in results or b not in results:
            continue
        for test in ("test", "natural"):
            if test not in results[a] or test not in results[b]:
                continue
            ca, cb = results[a][test]["correct"], results[b][test]["correct"]
            rows.append(
                {
                    "a": a,
                    "b": b,
                    "set": test,
                    "accuracy_a": float(np.mean(ca)),
                    "accuracy_b": float(np.mean(cb)),
                    **mcnemar(ca, cb),
                }
            )
    return rows


# --- ablations --------------------------------------------------------------------------------


def _ablation_multitask(config: BenchConfig) -> dict[str, Any]:
    """Multi-task vs separate models at quick-mode scale (same corpus, one epoch each)."""
    from classifiers.pipeline import train_classifier
    from classifiers.training_args import TrainingArguments

    mode: Mode = "test" if config.smoke else "quick"
    variants: dict[str, dict[str, float]] = {
        "multi_task": {},
        "intent_only": {"severity_weight": 0.0, "sentiment_weight": 0.0},
        "severity_only": {"intent_weight": 0.0, "sentiment_weight": 0.0},
    }
    out: dict[str, Any] = {}
    for name, overrides in variants.items():
        folder = config.cache_dir / "ablation_multitask" / name
        if not (folder / "model_card.json").exists():
            _log(f"ablation multi-task: training {name}")
            args = TrainingArguments.preset(mode, seed=config.seed, **overrides)
            train_classifier(
                mode,
                output_dir=folder,
                data_dir=config.data_dir,
                args=args,
                log=lambda line: _log(f"  {line}"),
            )
        card = json.loads((folder / "model_card.json").read_text())
        m = card["metrics"]
        out[name] = {
            "bitext_8k_accuracy": m["bitext_8k"]["intent"]["accuracy"],
            "natural_accuracy": m.get("natural", {}).get("intent", {}).get("accuracy"),
            "clinc_oos_recall": m["clinc_oos_test"]["intent"].get("oos_recall"),
            "tickets_severity_mae": m.get("tickets_heldout", {}).get("severity", {}).get("mae"),
            "ours_severity_mae": m["test"]["severity"].get("severity", {}).get("mae"),
            "sentiment_accuracy_ours": m["test"]["sentiment_hand_labelled"].get("accuracy"),
            "train_seconds": card["timings_s"]["train"],
            "batch1_p50_ms": m["latency_onnx_int8"]["batch1_p50_ms"],
        }
    return out


def _ablation_distillation(task: Task, config: BenchConfig) -> dict[str, Any]:
    """The student question on bitext: L3 vs L6-layers initialisation, with and without the teacher.

    Every variant gets the same one-epoch budget (three full epochs each would add ~40 minutes on two
    cores); Table 1's student is the three-epoch L3 + KD run."""
    variants = {
        "student_l3_kd": ("l3", 0.5),
        "student_l3_no_kd": ("l3", 0.0),
        "student_l6_layers_kd": ("l6_layers", 0.5),
    }
    epochs = 1.0 if config.smoke else _ABLATION_EPOCHS
    out: dict[str, Any] = {}
    for name, (init, alpha) in variants.items():
        folder = config.cache_dir / "ablation_distillation" / name
        run = _student(task, config, name, init, alpha, epochs=epochs, folder=folder)
        scored = _score(task, run)
        out[name] = {
            "init": init,
            "distill_alpha": alpha,
            "epochs": epochs,
            "test_accuracy": scored["test"]["accuracy"],
            "test_macro_f1": scored["test"]["macro_f1"],
            "natural_accuracy": scored.get("natural", {}).get("accuracy"),
            "train_seconds": round(run.train_seconds, 1),
            "severity": {k: v["mae"] for k, v in scored.get("severity", {}).items()},
        }
    return out


# --- driver -----------------------------------------------------------------------------------


def run_benchmark(config: BenchConfig) -> dict[str, Any]:
    """Run (or resume) every requested task x model, then the ablations; write the reports."""
    import shutil

    from classifiers.report import write_reports

    if config.fresh and config.cache_dir.exists():
        shutil.rmtree(config.cache_dir)
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in config.__dict__.items()},
        "environment": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "model_names": MODEL_NAMES,
        "tasks": {},
    }
    bitext_task: Task | None = None
    for task_name in config.tasks:
        _log(f"task {task_name}: loading")
        task = build_task(task_name, config)
        if task_name == "bitext":
            bitext_task = task
        sizes = {"train": len(task.train), "val": len(task.val)}
        sizes.update({k: len(v) for k, v in task.tests.items()})
        results: dict[str, dict[str, Any]] = {}
        for model in config.models:
            result_file = config.cache_dir / task_name / model / "result.json"
            if result_file.exists():
                scored = json.loads(result_file.read_text())
                _log(f"task {task_name}: {model} (cached)")
                if config.remeasure_latency and task_name == "bitext":
                    _measure_latency(task, model, scored, config)
                    result_file.write_text(json.dumps(scored))
                results[model] = scored
                continue
            _log(f"task {task_name}: {model}")
            run = run_model(task, model, config)
            scored = _score(task, run)
            if run.folder is not None and run.latency_kind:
                scored["artefact"] = {"folder": str(run.folder), "kind": run.latency_kind}
            if task_name == "bitext":
                _measure_latency(task, model, scored, config)
            result_file.parent.mkdir(parents=True, exist_ok=True)
            result_file.write_text(json.dumps(scored))
            results[model] = scored
            _log(f"  {model}: " + _headline(scored))
        report["tasks"][task_name] = {
            "sizes": sizes,
            "labels": len(task.labels),
            "results": results,
            "mcnemar": _mcnemar_tables(results),
        }
        if task_name == "bitext" and "minilm_onnx_int8" in results:
            report["tasks"][task_name]["confusion"] = _confusion(task, results["minilm_onnx_int8"])
    if config.ablations:
        report["ablations"] = {}
    if "multitask" in config.ablations:
        report["ablations"]["multitask"] = _ablation_multitask(config)
    if "distillation" in config.ablations and bitext_task is not None:
        report["ablations"]["distillation"] = _ablation_distillation(bitext_task, config)
    report["seconds"] = round(time.perf_counter() - started, 1)
    write_reports(report, config.out_dir)
    return report


def _measure_latency(task: Task, model: str, scored: dict[str, Any], config: BenchConfig) -> None:
    """Table 2 figures of one bitext model, each in a fresh process (the served classifier too)."""
    from classifiers.latency import measure_in_subprocess

    artefact = scored.get("artefact")
    if not artefact:
        return
    folder = Path(artefact["folder"])
    sample = _texts(task.tests["test"])[:400]
    scored["latency"] = measure_in_subprocess(
        artefact["kind"], folder, sample, threads=config.threads
    )
    _log(f"  latency {scored['latency']}")
    if model == "minilm_onnx_int8" and (folder / "classifier.json").exists():
        scored["latency_served"] = measure_in_subprocess(
            "classifier", folder, sample, threads=config.threads
        )
        _log(f"  served Classifier.predict {scored['latency_served']}")
    scored["load_average"] = list(os.getloadavg())


def _headline(scored: dict[str, Any]) -> str:
    test = scored.get("test", {})
    parts = [f"acc {test.get('accuracy', float('nan')):.4f}"]
    if "oos_recall" in test:
        parts.append(
            f"in-scope {test['in_scope_accuracy']:.4f} oos recall {test['oos_recall']:.4f}"
        )
    if "natural" in scored:
        parts.append(f"natural {scored['natural']['accuracy']:.3f}")
    for name, rep in scored.get("severity", {}).items():
        parts.append(f"{name} MAE {rep['mae']:.3f}")
    return ", ".join(parts)


def _confusion(task: Task, result: dict[str, Any]) -> dict[str, Any]:
    truth = [str(e.intent) for e in task.tests["test"]]
    predicted = result["test"]["predicted"]
    rows = sorted(set(truth))
    cols = rows + sorted(set(predicted) - set(rows))
    matrix = [[0] * len(cols) for _ in rows]
    for t, p in zip(truth, predicted, strict=True):
        matrix[rows.index(t)][cols.index(p)] += 1
    return {"rows": rows, "cols": cols, "matrix": matrix}


def default_config(**overrides: Any) -> BenchConfig:
    from classifiers.inference import DEFAULT_MODEL_NAME
    from tools.settings import get_settings

    settings = get_settings()
    return replace(
        BenchConfig(
            data_dir=settings.shared_data_dir,
            cache_dir=settings.var_dir / "bench" / "classifiers",
            out_dir=Path("reports"),
            served_model=settings.resolved_model_dir / DEFAULT_MODEL_NAME,
        ),
        **overrides,
    )
