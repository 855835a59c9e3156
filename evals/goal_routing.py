"""Which signal should pick the agent's goal: the fine-tuned classifier, the keyword cues, or both in
some order. Each labeled message's gold intent becomes a gold goal (the agent's ``intent_goal``:
``policy`` for what only the knowledge base answers, none out of scope), and each policy's goal is
scored against it, by language and over a range of confidence thresholds.

The default messages were never trained on: ``classifiers/data/natural_eval.jsonl`` (natural wording,
mostly English) and ``evals/data/routing_es_fr.jsonl`` (Spanish and French).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from rich.console import Console
from rich.table import Table

from agent.goals import Goal
from agent.language import detect_language
from agent.understanding import choose_goal, goal_confidence, goal_cue, intent_goal

if TYPE_CHECKING:
    from classifiers import Classifier


@dataclass(frozen=True)
class Signals:
    """What the agent knows about one labeled message when it picks a goal."""

    text: str
    source: str
    language: str
    gold: str | None
    cue: Goal | None
    intent: str
    confidence: float
    out_of_scope: bool
    read_in_language: bool = False
    """The classifier read the message in its language (English, or with a multilingual head)."""


Policy = Callable[[Signals, float], str | None]


def _classified(s: Signals, threshold: float) -> str | None:
    return intent_goal(s.intent) if s.confidence >= threshold and not s.out_of_scope else None


POLICIES: Final[dict[str, Policy]] = {
    "cue_first": lambda s, t: s.cue or _classified(s, t),
    "classifier_first": lambda s, t: _classified(s, t) or s.cue,
    "classifier_only": _classified,
    "cue_only": lambda s, _t: s.cue,
    "agent": lambda s, t: choose_goal(
        s.cue,
        s.intent,
        s.confidence,
        s.out_of_scope,
        t,
        s.language,
        read_in_language=s.read_in_language,
    ),
}
"""``agent`` is what ``agent.nodes.understand`` does (``agent.understanding.choose_goal``)."""

THRESHOLDS: Final = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def default_message_paths() -> list[Path]:
    from classifiers.corpus import DATA_DIR

    return [
        DATA_DIR / "natural_eval.jsonl",
        Path(__file__).resolve().parent / "data" / "routing_es_fr.jsonl",
    ]


def signals(classifier: Classifier, path: Path) -> list[Signals]:
    """The classifier's prediction, the cue and the language of each labeled message in ``path``."""
    from classifiers import load_labeled_file

    rows = [r for r in load_labeled_file(path) if r.intent is not None]
    languages = [detect_language(r.text) for r in rows]
    # Each message is read as the agent reads it: in its language, at the level of its goal.
    predictions = [
        classifier.predict(r.text, language=lang) for r, lang in zip(rows, languages, strict=True)
    ]
    oos = classifier.out_of_scope_intent
    out = []
    for row, lang, p in zip(rows, languages, predictions, strict=True):
        confidence = goal_confidence(p.intent, p.confidence, p.top_k)
        out.append(
            Signals(
                text=row.text,
                source=path.stem,
                language=lang,
                gold=intent_goal(str(row.intent), out_of_scope=row.intent == oos),
                cue=goal_cue(row.text),
                intent=p.intent,
                confidence=confidence,
                out_of_scope=p.out_of_scope,
                read_in_language=lang in classifier.languages,
            )
        )
    return out


def accuracy(policy: Policy, rows: Sequence[Signals], threshold: float) -> float:
    """Share of ``rows`` whose goal under ``policy`` is the gold goal."""
    return sum(policy(s, threshold) == s.gold for s in rows) / len(rows) if rows else 0.0


def _scores(rows: Sequence[Signals], threshold: float) -> dict[str, Any]:
    return {
        "n": len(rows),
        **{name: round(accuracy(p, rows, threshold), 4) for name, p in POLICIES.items()},
    }


def evaluate(
    rows: Sequence[Signals], thresholds: Sequence[float] = THRESHOLDS, min_confidence: float = 0.5
) -> dict[str, Any]:
    """Goal accuracy of every policy: by group (all, each source, English, Spanish and French) at
    ``min_confidence``, over ``thresholds`` for all messages; and the agent's misses."""
    groups: dict[str, list[Signals]] = {"all": list(rows)}
    for s in rows:
        groups.setdefault(s.source, []).append(s)
    groups["en"] = [s for s in rows if s.language == "en"]
    groups["es+fr"] = [s for s in rows if s.language != "en"]
    agent = POLICIES["agent"]
    return {
        "messages": len(rows),
        "min_confidence": min_confidence,
        "accuracy": {name: _scores(group, min_confidence) for name, group in groups.items()},
        "by_threshold": {f"{t:g}": _scores(rows, t) for t in thresholds},
        "agent_misses": [
            {**asdict(s), "goal": agent(s, min_confidence)}
            for s in rows
            if agent(s, min_confidence) != s.gold
        ],
    }


def _table(title: str, first: str, scores: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=title)
    table.add_column(first)
    table.add_column("n", justify="right")
    for name in POLICIES:
        table.add_column(name.replace("_", "\n"), justify="right")
    for key, row in scores.items():
        table.add_row(key, str(row["n"]), *(f"{row[name]:.1%}" for name in POLICIES))
    return table


def main(
    *,
    out: str = "reports/bench.json",
    messages: Sequence[Path] = (),
    min_confidence: float | None = None,
) -> dict[str, Any]:
    """Score the policies with the trained classifier and write them under ``routing`` in ``out``."""
    from classifiers import Classifier
    from tools.settings import get_settings

    console = Console()
    threshold = get_settings().agent_min_confidence if min_confidence is None else min_confidence
    paths = list(messages) or default_message_paths()
    classifier = Classifier.from_pretrained()
    rows = [s for path in paths for s in signals(classifier, path)]
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": [p.name for p in paths],
        "model": classifier.folder.name,
        **evaluate(rows, min_confidence=threshold),
    }
    console.print(
        _table(f"goal accuracy at confidence >= {threshold:g}", "messages", report["accuracy"])
    )
    console.print(_table("goal accuracy by threshold, all messages", ">=", report["by_threshold"]))
    console.print(f"agent misses at {threshold:g}: {len(report['agent_misses'])} (in the report)")
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(target.read_text()) if target.exists() else {}
    existing["routing"] = report
    target.write_text(json.dumps(existing, indent=2))
    console.print(f"Wrote {target}")
    return report
