"""``concierge train`` and ``concierge bench classifiers``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

# Before torch loads: models come from installed packages only, and with cores shared between
# processes, spinning OpenMP threads slow training down several times.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table  # noqa: E402

from classifiers.errors import ClassifierError  # noqa: E402

__all__ = ["bench_command", "train_command"]

console = Console()


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def train_command(
    quick: Annotated[
        bool, typer.Option("--quick", help="A first model in minutes (the default).")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="All the data, 3 epochs: the published numbers.")
    ] = False,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="A shop's own labeled messages (JSONL or CSV); repeatable."),
    ] = None,
    taxonomy: Annotated[
        Path | None, typer.Option(help="A taxonomy JSON file (default: the shipped one).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Model folder (default: CONCIERGE_MODEL_DIR or var/models, /classifier)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Public datasets folder (default: CONCIERGE_SHARED_DATA_DIR)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of splits, sampling and initialisation.")] = 13,
    epochs: Annotated[float | None, typer.Option(help="Override the mode's epochs.")] = None,
    if_missing: Annotated[
        bool,
        typer.Option("--if-missing", help="Do nothing when a trained classifier is already there."),
    ] = False,
    new_rows: Annotated[
        bool,
        typer.Option(
            "--new-rows/--no-new-rows",
            help="Train on the rows written for issue 16 (natural English, Spanish, French, "
            "frustration); --no-new-rows gives the earlier model, for comparison.",
        ),
    ] = True,
    hard_rows: Annotated[
        bool,
        typer.Option(
            "--hard-rows",
            help="Also train on the hard cases (out-of-scope in shop words, quiet threats, the "
            "frustration rubric's tone boundaries, messages with identity details): an ablation, "
            "see classifiers/README.md.",
        ),
    ] = False,
    multilingual: Annotated[
        bool,
        typer.Option(
            "--multilingual/--no-multilingual",
            help="Also train the Spanish / French intent head (about 75 s more on 2 cores).",
        ),
    ] = True,
) -> None:
    """Fine-tune the intent / severity / sentiment classifier, calibrate it, export ONNX int8."""
    from classifiers.inference import CONFIG_FILE, DEFAULT_MODEL_NAME
    from classifiers.pipeline import train_classifier
    from classifiers.training_args import Mode, TrainingArguments
    from tools.settings import get_settings

    if quick and full:
        raise typer.BadParameter("choose one of --quick and --full")
    target = output or get_settings().resolved_model_dir / DEFAULT_MODEL_NAME
    if if_missing and (target / CONFIG_FILE).exists():
        console.print(
            f"A trained classifier is already in {target}; leaving it as it is.", soft_wrap=True
        )
        return
    mode: Mode = "full" if full else "quick"
    args = TrainingArguments.preset(mode, seed=seed)
    if epochs is not None:
        args = TrainingArguments.preset(mode, seed=seed, epochs=epochs)
    console.print(f"Training the classifier ([bold]{mode}[/bold] mode, seed {seed})")
    try:
        with _progress() as progress:
            result = train_classifier(
                mode,
                output_dir=output,
                data_dir=data_dir,
                extra_data=data or [],
                taxonomy_path=taxonomy,
                args=args,
                corpus_overrides={"new_rows": new_rows, "hard_rows": hard_rows},
                multilingual=None if multilingual else False,
                progress=progress,
                log=lambda line: progress.console.print(f"  {line}"),
            )
    except ClassifierError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    _print_card(result.card)
    console.print(
        f"Model written to [bold]{result.folder}[/bold] (model_card.json has the details)."
    )


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_card(card: dict[str, object]) -> None:
    metrics = card["metrics"]
    assert isinstance(metrics, dict)
    table = Table("evaluation set", "figure", "value", title="classifier (ONNX int8)")
    rows = [
        ("test split", "intent accuracy", metrics["test"]["intent"]["accuracy"]),
        ("test split", "intent macro F1", metrics["test"]["intent"]["macro_f1"]),
        ("test split", "ECE (calibrated)", metrics["test"]["intent"]["ece"]),
    ]
    for name, label in (("bitext_8k", "Bitext 8k held-out"), ("natural", "our natural wording")):
        if name in metrics and "intent" in metrics[name]:
            rows.append((label, "intent accuracy", metrics[name]["intent"]["accuracy"]))
    if "clinc_oos_test" in metrics:
        rows.append(
            (
                "CLINC oos_test",
                "out-of-scope recall",
                metrics["clinc_oos_test"]["intent"]["oos_recall"],
            )
        )
    if "tickets_heldout" in metrics:
        rows.append(
            ("held-out tickets", "severity MAE", metrics["tickets_heldout"]["severity"]["mae"])
        )
    for source, report in metrics["test"]["severity"].items():
        rows.append((f"test split: {source}", "severity MAE", report["mae"]))
    rows.append(
        ("our sentiment labels", "accuracy", metrics["test"]["sentiment_hand_labelled"]["accuracy"])
    )
    latency = metrics["latency_onnx_int8"]
    rows.append(("latency", "batch-1 p50 ms", latency["batch1_p50_ms"]))
    rows.append(("latency", "batch-32 msg/s", latency["batch32_msg_per_s"]))
    timings = card["timings_s"]
    assert isinstance(timings, dict)
    rows.append(("timing", "total s", timings["total"]))
    for row in rows:
        table.add_row(*(_fmt(x) for x in row))
    console.print(table)


def bench_command(
    tasks: Annotated[
        str, typer.Option(help="Comma-separated: bitext, banking77, clinc150.")
    ] = "bitext,banking77,clinc150",
    models: Annotated[
        str,
        typer.Option(
            help="Comma-separated: tfidf_lr, bilstm, frozen_minilm_lr, minilm_torch, "
            "minilm_onnx_int8, student_onnx_int8."
        ),
    ] = "tfidf_lr,bilstm,frozen_minilm_lr,minilm_torch,minilm_onnx_int8,student_onnx_int8",
    ablations: Annotated[
        str,
        typer.Option(
            help="Comma-separated: multitask (multi-task vs separate heads), distillation (the "
            "student's initialisation and loss); 'none' for neither."
        ),
    ] = "multitask,distillation",
    threads: Annotated[int, typer.Option(help="Threads for the latency measurements.")] = 1,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Tiny subsets, one epoch: checks the code only.")
    ] = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Ignore cached models and results.")
    ] = False,
    remeasure_latency: Annotated[
        bool,
        typer.Option("--remeasure-latency", help="Time the cached models again (Table 2)."),
    ] = False,
    out: Annotated[Path, typer.Option(help="Folder of the reports.")] = Path("reports"),
    cache: Annotated[
        Path | None, typer.Option(help="Cache of trained models (default: var/bench/classifiers).")
    ] = None,
) -> None:
    """Tables 1-4 (accuracy, latency, training cost, severity MAE) for six models on Bitext,
    BANKING77 and CLINC150, McNemar tests and ablations; reports/classifiers_bench.{md,json,html}."""
    from classifiers.bench import ABLATIONS, MODELS, TASKS, default_config, run_benchmark
    from classifiers.report import markdown_tables

    task_list = tuple(t.strip() for t in tasks.split(",") if t.strip())
    model_list = tuple(m.strip() for m in models.split(",") if m.strip())
    ablation_list = tuple(
        a.strip() for a in ablations.split(",") if a.strip() and a.strip() != "none"
    )
    unknown = (
        [t for t in task_list if t not in TASKS]
        + [m for m in model_list if m not in MODELS]
        + [a for a in ablation_list if a not in ABLATIONS]
    )
    if unknown:
        raise typer.BadParameter(f"unknown task, model or ablation: {unknown}")
    overrides: dict[str, object] = {
        "tasks": task_list,
        "models": model_list,
        "ablations": ablation_list,
        "threads": threads,
        "smoke": smoke,
        "fresh": fresh,
        "remeasure_latency": remeasure_latency,
        "out_dir": out,
    }
    if cache is not None:
        overrides["cache_dir"] = cache
    elif smoke:
        overrides["cache_dir"] = Path("var") / "bench" / "classifiers-smoke"
    try:
        report = run_benchmark(default_config(**overrides))
    except ClassifierError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(markdown_tables(report), soft_wrap=True, markup=False)
    console.print(f"Reports written to [bold]{out}[/bold]/classifiers_bench.{{md,json,html}}")


def _embedded_once(cache: Path, texts: dict[str, list[str]]) -> dict[str, Any]:
    """multilingual-e5-small embeddings of each split's texts, kept in ``cache`` under a hash of
    the texts (CLINC150's 23,700 texts take about 8 minutes on 2 cores)."""
    import hashlib

    import numpy as np

    from classifiers.multilingual import embed

    cache.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    with _progress() as progress:
        for name, rows in texts.items():
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
            path = cache / f"{name}-{digest}.npy"
            if path.exists():
                out[name] = np.load(path)
                continue
            task = progress.add_task(f"e5 embedding: {name}", total=len(rows))

            def advance(done: int, task: Any = task) -> None:
                progress.update(task, completed=done)

            vectors = embed(rows, progress=advance)
            np.save(path.with_suffix(".tmp.npy"), vectors)
            path.with_suffix(".tmp.npy").replace(path)  # never a half-written cache file
            out[name] = vectors
    return out


def oos_command(
    target: Annotated[
        float, typer.Option(help="In-scope accuracy each threshold must keep on validation.")
    ] = 0.95,
    k: Annotated[int, typer.Option(help="Neighbours of the kNN score.")] = 10,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Tiny subsets, one epoch: checks the code only.")
    ] = False,
    out: Annotated[Path, typer.Option(help="The JSON report.")] = Path("reports/oos.json"),
    cache: Annotated[
        Path | None, typer.Option(help="Cache of trained models (default: var/bench/classifiers).")
    ] = None,
) -> None:
    """Out-of-scope scores compared on CLINC150 (the class alone, max softmax, energy, kNN) on the
    fine-tuned MiniLM that `concierge bench classifiers` trains (trained here if not cached)."""
    import json
    from dataclasses import replace

    from rich.table import Table

    from classifiers.bench import build_task, default_config, run_model
    from classifiers.multilingual import encoder_available
    from classifiers.oos import METHODS, compare_scores, read

    config = default_config(tasks=("clinc150",), smoke=smoke)
    if cache is not None:
        config = replace(config, cache_dir=cache)
    elif smoke:
        config = replace(config, cache_dir=Path("var") / "bench" / "classifiers-smoke")
    try:
        task = build_task("clinc150", config)
        run_model(task, "minilm_torch", config)  # fine-tunes it once, then reads the cache
    except ClassifierError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    folder = config.cache_dir / "clinc150" / "minilm" / "torch"
    index = {name: i for i, name in enumerate(task.labels)}
    splits = {
        name: read(folder, [e.text for e in rows], [index[str(e.intent)] for e in rows])
        for name, rows in (("train", task.train), ("val", task.val), ("test", task.tests["test"]))
    }
    if encoder_available():
        texts = {
            name: [e.text for e in rows]
            for name, rows in (
                ("train", task.train),
                ("val", task.val),
                ("test", task.tests["test"]),
            )
        }
        embedded = _embedded_once(config.cache_dir / "clinc150" / "e5", texts)
        splits = {name: replace(r, sentences=embedded[name]) for name, r in splits.items()}
    else:
        console.print("multilingual-e5-small is not installed: the e5-knn scores are left out")
    assert task.oos is not None
    report = compare_scores(
        splits["train"], splits["val"], splits["test"], index[task.oos], target=target, k=k
    )
    table = Table(
        "score",
        "threshold",
        "val in-scope / OOS recall",
        "test in-scope accuracy",
        "test OOS recall",
        title=f"CLINC150 out-of-scope at in-scope accuracy >= {target} (threshold on validation)",
    )
    for method in METHODS:
        if method not in report:
            continue
        r = report[method]
        table.add_row(
            method,
            "-" if r["threshold"] is None else f"{r['threshold']:.4f}",
            f"{r['val']['in_scope_accuracy']:.3f} / {r['val']['oos_recall']:.3f}",
            f"{r['test']['in_scope_accuracy']:.4f}",
            f"{r['test']['oos_recall']:.4f}",
        )
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    console.print(f"Wrote {out}")
