"""The labeled retrieval QA set: questions about the shop's documents and the sections that answer them.

Each line of the JSON Lines file is one question::

    {"id": "rq-001", "question": "...", "relevant": [{"source": "demo/faq.md", "anchor": "..."}],
     "kind": "paraphrase", "corpus": "demo"}

``source`` is ``demo/<file name>`` (the demo shop's policy pages), ``tau2/policy.md`` (the tau2
retail policy) or ``catalog/<product id>`` (a demo-shop product, whose anchor is always ``""``).
``anchor`` is the GitHub-style slug of the deepest heading whose section holds the answer, or ``""``
for text before the first heading. ``no_answer`` questions are plausible shop questions that the
corpus does not answer; they have no relevant sections. Every other question has at least one.

``load_qa`` validates strictly and names the file and line of the first problem it finds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, cast

Kind = Literal["direct", "paraphrase", "typo", "no_answer"]
Corpus = Literal["demo", "tau2", "catalog"]

KINDS: Final[tuple[Kind, ...]] = ("direct", "paraphrase", "typo", "no_answer")
CORPORA: Final[tuple[Corpus, ...]] = ("demo", "tau2", "catalog")

_FIELDS: Final = frozenset({"id", "question", "relevant", "kind", "corpus"})
_RELEVANT_FIELDS: Final = frozenset({"source", "anchor"})


class QAFormatError(ValueError):
    """A QA file that does not follow the format; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class Relevant:
    """A section that answers a question: a document and the anchor of a heading in it."""

    source: str
    anchor: str

    @property
    def corpus(self) -> Corpus:
        """The corpus the source belongs to (the part before the first ``/``)."""
        return cast(Corpus, self.source.split("/", 1)[0])


@dataclass(frozen=True)
class QAItem:
    """One labeled question."""

    id: str
    question: str
    relevant: tuple[Relevant, ...]
    kind: Kind
    corpus: Corpus

    @property
    def answerable(self) -> bool:
        return self.kind != "no_answer"


def default_qa_path() -> Path:
    """The QA set shipped with concierge."""
    return Path(__file__).resolve().parent / "data" / "retrieval_qa.jsonl"


def load_qa(path: Path | str) -> list[QAItem]:
    """Read and validate a QA file; raises ``QAFormatError`` naming the file and line on any problem."""
    path = Path(path)
    items: list[QAItem] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            where = f"{path}:{number}"
            item = _parse_line(line, where)
            if item.id in seen:
                raise QAFormatError(
                    f"{where}: duplicate id {item.id!r} (first used on line {seen[item.id]})"
                )
            seen[item.id] = number
            items.append(item)
    return items


def _parse_line(line: str, where: str) -> QAItem:
    if not line.strip():
        raise QAFormatError(f"{where}: blank line")
    try:
        raw: object = json.loads(line)
    except json.JSONDecodeError as exc:
        raise QAFormatError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise QAFormatError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    obj = cast(dict[str, object], raw)
    _check_fields(obj, _FIELDS, where, "")

    item_id = _text(obj, "id", where)
    question = _text(obj, "question", where)
    kind = _text(obj, "kind", where)
    if kind not in KINDS:
        raise QAFormatError(f"{where}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    corpus = _text(obj, "corpus", where)
    if corpus not in CORPORA:
        raise QAFormatError(
            f"{where}: unknown corpus {corpus!r}; expected one of {', '.join(CORPORA)}"
        )
    relevant = _relevant(obj["relevant"], where)

    if kind == "no_answer" and relevant:
        raise QAFormatError(f"{where}: a no_answer question must have an empty 'relevant' list")
    if kind != "no_answer" and not relevant:
        raise QAFormatError(f"{where}: an answerable question needs at least one relevant section")
    if relevant and all(r.corpus != corpus for r in relevant):
        raise QAFormatError(f"{where}: corpus {corpus!r} but no relevant section comes from it")
    return QAItem(
        id=item_id,
        question=question,
        relevant=relevant,
        kind=kind,
        corpus=corpus,
    )


def _check_fields(obj: dict[str, object], expected: frozenset[str], where: str, what: str) -> None:
    unknown = sorted(set(obj) - expected)
    if unknown:
        raise QAFormatError(f"{where}: unknown field{what} {', '.join(map(repr, unknown))}")
    missing = sorted(expected - set(obj))
    if missing:
        raise QAFormatError(f"{where}: missing field{what} {', '.join(map(repr, missing))}")


def _text(obj: dict[str, object], field: str, where: str, *, empty: bool = False) -> str:
    value = obj[field]
    if not isinstance(value, str):
        raise QAFormatError(f"{where}: field {field!r} must be a string, got {_json_type(value)}")
    if not empty and not value.strip():
        raise QAFormatError(f"{where}: field {field!r} must not be empty")
    if value != value.strip():
        raise QAFormatError(f"{where}: field {field!r} has leading or trailing whitespace")
    return value


def _relevant(value: object, where: str) -> tuple[Relevant, ...]:
    if not isinstance(value, list):
        raise QAFormatError(f"{where}: field 'relevant' must be a list, got {_json_type(value)}")
    out: list[Relevant] = []
    for index, entry in enumerate(cast(list[object], value)):
        at = f"{where}: relevant[{index}]"
        if not isinstance(entry, dict):
            raise QAFormatError(f"{at} must be an object, got {_json_type(entry)}")
        obj = cast(dict[str, object], entry)
        _check_fields(obj, _RELEVANT_FIELDS, at, " in relevant entry")
        source = _text(obj, "source", at)
        anchor = _text(obj, "anchor", at, empty=True)
        prefix, _, rest = source.partition("/")
        if prefix not in CORPORA or not rest:
            raise QAFormatError(
                f"{at}: source {source!r} must look like '<corpus>/<name>' with corpus one of "
                f"{', '.join(CORPORA)}"
            )
        if prefix == "catalog" and anchor:
            raise QAFormatError(f"{at}: catalog sources have the anchor '', got {anchor!r}")
        if anchor != anchor.lower() or " " in anchor:
            raise QAFormatError(f"{at}: anchor {anchor!r} is not a lower-case slug")
        item = Relevant(source=source, anchor=anchor)
        if item in out:
            raise QAFormatError(f"{at}: duplicate relevant section {source}#{anchor}")
        out.append(item)
    return tuple(out)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
