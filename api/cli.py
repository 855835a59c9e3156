"""The ``concierge`` command. Each package contributes its own sub-commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agent.cli import chat_command
from agent.llm_cli import app as llm_app
from api.server import serve_command
from classifiers.cli import bench_command, oos_command, train_command
from knowledge.cli import app as kb_app
from tools.cli import StoreOption
from tools.cli import app as shop_app

if TYPE_CHECKING:
    from classifiers import Classifier

app = typer.Typer(
    name="concierge",
    help="concierge: an AI customer-support agent for e-commerce shops.",
    no_args_is_help=True,
)
app.add_typer(shop_app, name="shop")
app.add_typer(kb_app, name="kb")
app.add_typer(llm_app, name="llm")

bench_app = typer.Typer(help="Benchmarks that print numbers and write reports/.")
app.add_typer(bench_app, name="bench")
app.command("train")(train_command)
app.command("chat")(chat_command)
app.command("serve")(serve_command)
bench_app.command("classifiers")(bench_command)
bench_app.command("oos")(oos_command)


@app.command()
def shell(store_url: StoreOption = None) -> None:
    """Type tool calls (``get_order_details #W2611340``) against the store and see the results."""
    from tools.shell import run_shell
    from tools.store import open_store

    run_shell(open_store(store_url))


eval_app = typer.Typer(help="Evaluations against labeled data; they write reports/.")
app.add_typer(eval_app, name="eval")


@eval_app.command("conversations")
def eval_conversations(
    file: Annotated[
        Path, typer.Argument(help="Labeled conversations: JSON Lines in the design's format.")
    ],
    llm: Annotated[
        str, typer.Option("--llm", help="none, local (the embedded llama.cpp model) or openai.")
    ] = "none",
    min_pass: Annotated[
        float | None, typer.Option(help="Exit 1 when the turn pass rate is below this (0-1).")
    ] = None,
    out: Annotated[
        str, typer.Option(help="Where the JSON report goes.")
    ] = "reports/eval_conversations.json",
) -> None:
    """Play labeled conversations through the agent, each on a fresh store, and check every turn."""
    from evals.conversations import ConversationFileError, main

    if llm not in ("none", "local", "openai"):
        raise typer.BadParameter(f"--llm must be none, local or openai, not {llm!r}")
    try:
        main(str(file), llm=llm, min_pass=min_pass, out=out)
    except ConversationFileError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


def _ablation(classifier: Classifier, against: Path, knobs: Any) -> dict[str, dict[str, Any]]:
    """The earlier model, then this one a change at a time (the English model alone, its
    multilingual head for Spanish and French, its second opinion in English, its severity head), on
    our held-out sets, each row with McNemar's test against the earlier model and against the row
    before."""
    from dataclasses import replace

    from classifiers import Classifier
    from classifiers.heldout import compare_heldout

    models = {"earlier model": Classifier.from_pretrained(against)}
    head = classifier.multilingual
    if head is not None:

        def variant(*, intents: bool, second: bool, severity: bool) -> Classifier:
            below = classifier.second_opinion_below if second else 0.0
            model = Classifier.from_pretrained(
                classifier.folder,
                second_opinion_below=below,
                english_severity_head=classifier.english_severity_head,
            )
            model.multilingual = (
                (head if severity else replace(head, severity=None)) if intents else None
            )
            return model

        models["this model, English model alone"] = variant(
            intents=False, second=False, severity=False
        )
        models["+ multilingual head for Spanish / French"] = variant(
            intents=True, second=False, severity=False
        )
        if classifier.second_opinion_below > 0:
            models[f"+ second opinion below {classifier.second_opinion_below:g}"] = variant(
                intents=True, second=True, severity=False
            )
        if head.severity is not None:
            models["+ severity head"] = variant(intents=True, second=True, severity=True)
        last = list(models)[-1]
        models[f"{last} (served)"] = models.pop(last)
    else:
        models["this model"] = classifier
    return compare_heldout(
        models,
        "earlier model",
        severity_escalation=knobs.severity_escalation,
        negative_sentiment=knobs.negative_sentiment,
    )


def _path_costs(classifier: Classifier) -> dict[str, dict[str, Any]]:
    """Batch-1 latency and peak RSS of the English path and, where the model has its head, the
    multilingual one, each in a fresh process (``classifiers.latency``), on one thread."""
    from classifiers.heldout import load_rows
    from classifiers.latency import measure_in_subprocess

    costs = {
        "english": measure_in_subprocess(
            "classifier", classifier.folder, [r["text"] for r in load_rows("natural_test")]
        )
    }
    if classifier.multilingual is not None:
        costs["spanish / french"] = measure_in_subprocess(
            "multilingual", classifier.folder, [r["text"] for r in load_rows("spanish_test")]
        )
    return costs


@eval_app.command("classifier")
def eval_classifier(
    model: Annotated[
        Path | None, typer.Option(help="The model folder (default: the served one).")
    ] = None,
    out: Annotated[
        str, typer.Option(help="Where the JSON report goes.")
    ] = "reports/classifier_heldout.json",
    against: Annotated[
        Path | None,
        typer.Option(
            help="An earlier model folder: adds ablation rows (it, then this model a change at "
            "a time) with McNemar's tests."
        ),
    ] = None,
    latency: Annotated[
        bool,
        typer.Option(
            "--latency/--no-latency",
            help="Also time the English and the multilingual path in fresh processes.",
        ),
    ] = True,
) -> None:
    """The served classifier on our held-out sets: natural English, Spanish, French, frustration;
    and the cost of reading English and Spanish (batch-1 p50 / p95, peak RSS)."""
    import json

    from rich.console import Console
    from rich.table import Table

    from agent.context import Context
    from classifiers import Classifier
    from classifiers.errors import ClassifierError
    from classifiers.heldout import evaluate_heldout

    knobs = Context()  # escalation is read with the thresholds the agent uses
    try:
        classifier = Classifier.from_pretrained(model) if model else Classifier.from_pretrained()
        report = evaluate_heldout(
            classifier,
            severity_escalation=knobs.severity_escalation,
            negative_sentiment=knobs.negative_sentiment,
        )
        if against is not None:
            report["ablation"] = _ablation(classifier, against, knobs)
        if latency:
            report["latency"] = _path_costs(classifier)
    except (ClassifierError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    table = Table("set", "n", "figures", title="classifier on our held-out sets")
    for name, entry in report.items():
        if name == "ablation":
            for row, sets in entry.items():
                shown = ", ".join(
                    f"{set_name} {figures['accuracy']:.3f}"
                    + (
                        f" (p={figures['mcnemar_vs_reference']['p_value']:.2g})"
                        if "mcnemar_vs_reference" in figures
                        else ""
                    )
                    for set_name, figures in sets.items()
                )
                table.add_row(f"ablation: {row}", "", shown)
            continue
        if name == "latency":
            for path_name, cost in entry.items():
                shown = (
                    f"batch-1 p50 {cost['batch1_p50_ms']:.2f} ms, p95 {cost['batch1_p95_ms']:.2f} "
                    f"ms, peak RSS {cost['peak_rss_mb']:.0f} MB"
                    if "error" not in cost
                    else cost["error"]
                )
                table.add_row(f"cost: {path_name}", "", shown)
            continue
        if "accuracy" in entry:
            shown = f"accuracy {entry['accuracy']:.3f}"
            if entry["oos_recall"] is not None:
                shown += f", out-of-scope recall {entry['oos_recall']:.2f}"
        else:
            esc = entry["escalation"]
            shown = (
                f"severity MAE {entry['severity_mae']:.3f}, sentiment accuracy "
                f"{entry['sentiment_accuracy']:.3f}, escalation P/R/F1 {esc['precision']:.2f} / "
                f"{esc['recall']:.2f} / {esc['f1']:.3f}"
            )
        table.add_row(name, str(entry["n"]), shown)
    Console().print(table)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    typer.echo(f"Wrote {path}")


@eval_app.command("tau2")
def eval_tau2(
    split: Annotated[
        str, typer.Option(help="tau2's split: test (40 tasks), train (74) or all.")
    ] = "test",
    trials: Annotated[
        int, typer.Option(help="Runs of each task; pass^1..pass^k are reported.")
    ] = 1,
    user: Annotated[
        str,
        typer.Option(
            "--user", help="Who plays the customer: local (the embedded model) or openai."
        ),
    ] = "local",
    user_model: Annotated[
        str | None,
        typer.Option(
            help="The customer's model: 0.5b or 1.5b when local, a model name for openai."
        ),
    ] = None,
    llm: Annotated[
        str, typer.Option("--llm", help="The agent's LLM: none, local or openai.")
    ] = "none",
    adversarial: Annotated[bool, typer.Option(help="Also run the 8 adversarial tasks.")] = True,
    limit: Annotated[
        int | None, typer.Option(help="Only the first N tasks (and N adversarial ones).")
    ] = None,
    max_turns: Annotated[int, typer.Option(help="Customer messages per episode at most.")] = 12,
    out: Annotated[
        str, typer.Option(help="Where the JSON report goes.")
    ] = "reports/eval_tau2.json",
) -> None:
    """A simulated customer (an LLM playing each tau2 retail task's scenario) against the agent,
    scored as tau2 scores retail: end state of the shop and communicated facts; pass^k."""
    from agent.local_llm import LocalLLMError
    from evals.tau2_sim import Tau2TaskError, main

    if split not in ("test", "train", "all"):
        raise typer.BadParameter(f"--split must be test, train or all, not {split!r}")
    if trials < 1:
        raise typer.BadParameter("--trials must be at least 1")
    if user not in ("local", "openai"):
        raise typer.BadParameter(f"--user must be local or openai, not {user!r}")
    if llm not in ("none", "local", "openai"):
        raise typer.BadParameter(f"--llm must be none, local or openai, not {llm!r}")
    if user == "local" and user_model not in (None, "0.5b", "1.5b"):
        raise typer.BadParameter("--user-model must be 0.5b or 1.5b with --user local")
    try:
        main(
            split,  # type: ignore[arg-type]
            trials,
            user=user,
            user_model=user_model,
            agent=llm,
            adversarial=adversarial,
            limit=limit,
            max_turns=max_turns,
            out=out,
        )
    except (Tau2TaskError, LocalLLMError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


@bench_app.command("tools")
def bench_tools(
    calls: Annotated[int, typer.Option(help="Calls per tool and backend.")] = 200,
    postgres_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL server to benchmark on (a scratch database is created)."),
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    out: Annotated[str, typer.Option(help="Where the JSON report goes.")] = "reports/bench.json",
) -> None:
    """Tool latency p50/p95 for reads and writes on SQLite and PostgreSQL over the tau2 shop."""
    from evals.bench_tools import main

    main(calls=calls, postgres_url=postgres_url or None, out=out)


@bench_app.command("retrieval")
def bench_retrieval(
    out: Annotated[str, typer.Option(help="Where the JSON report goes.")] = "reports/bench.json",
    html: Annotated[
        str, typer.Option(help="Where the HTML report goes.")
    ] = "reports/retrieval.html",
    train: Annotated[
        bool, typer.Option(help="Fit the coverage model on the dev half and save it.")
    ] = True,
    latency_queries: Annotated[int, typer.Option(help="Timed searches per mode (0: skip).")] = 200,
    amazon_questions: Annotated[
        int, typer.Option(help="Amazon appliance questions to check (0: skip that part).")
    ] = 500,
) -> None:
    """Retrieval quality, no-answer detection, latency and ingestion throughput of the knowledge base."""
    from evals.bench_retrieval import main

    main(
        out=out,
        html=html,
        train=train,
        latency_queries=latency_queries,
        amazon_questions=amazon_questions,
    )


@bench_app.command("agent")
def bench_agent(
    out: Annotated[str, typer.Option(help="Where the JSON report goes.")] = "reports/bench.json",
    repeats: Annotated[int, typer.Option(help="Times each conversation is replayed.")] = 5,
    llm: Annotated[
        str, typer.Option("--llm", help="none, local (the embedded llama.cpp model) or openai.")
    ] = "none",
) -> None:
    """Per-turn latency of the agent by node, p50/p95, and its memory (and the LLM server's)."""
    from evals.bench_agent import main

    if llm not in ("none", "local", "openai"):
        raise typer.BadParameter(f"--llm must be none, local or openai, not {llm!r}")
    main(out=out, repeats=repeats, llm=llm)


@bench_app.command("load")
def bench_load(
    customers: Annotated[int, typer.Option(help="Simulated customers.")] = 1000,
    turns: Annotated[int, typer.Option(help="Messages each customer sends.")] = 4,
    llm: Annotated[str, typer.Option("--llm", help="none, or local (llama.cpp).")] = "none",
    out: Annotated[str, typer.Option(help="The JSON report.")] = "reports/bench_load.json",
) -> None:
    """Simulated customers against a real server over loopback: turns/s, p50/p95/p99, errors."""
    from evals.bench_load import main

    if llm not in ("none", "local"):
        raise typer.BadParameter(f"--llm must be none or local, not {llm!r}")
    main(customers=customers, turns=turns, llm=llm, out=out)


@bench_app.command("index")
def bench_index(
    reports_dir: Annotated[
        str, typer.Option(help="The folder holding the report JSON files.")
    ] = "reports",
) -> None:
    """Write reports/index.html: every report found there, its headline numbers and links."""
    from evals.report_index import main

    main(reports_dir)


@bench_app.command("routing")
def bench_routing(
    out: Annotated[str, typer.Option(help="Where the JSON report goes.")] = "reports/bench.json",
    messages: Annotated[
        list[Path] | None,
        typer.Option(
            help="Labeled messages (JSONL or CSV: text, intent), repeatable; default: held-out sets."
        ),
    ] = None,
    min_confidence: Annotated[
        float | None, typer.Option(help="Confidence threshold to report (default: the setting).")
    ] = None,
) -> None:
    """Goal accuracy of the classifier, the keyword cues and their orderings (which picks the goal)."""
    from evals.goal_routing import main

    main(out=out, messages=messages or (), min_confidence=min_confidence)


if __name__ == "__main__":
    app()
