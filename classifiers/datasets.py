"""Loaders for the labeled data the classifier learns from, de-duplication and splits.

Every loader returns :class:`Example` rows with cleaned text (``preprocessing.clean_text``; blank
messages dropped) and rejects a malformed file with a :class:`DatasetFormatError` naming the file and
the line. Third-party files are read where they lie (``Settings().shared_data_dir``), never copied.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from classifiers.errors import DatasetFormatError, DatasetNotFoundError, TaxonomyError
from classifiers.labels import PRIORITY_TO_SEVERITY, SENTIMENTS, Sentiment
from classifiers.preprocessing import clean_text, dedup_key
from classifiers.taxonomy import Taxonomy

__all__ = [
    "BITEXT_FILES",
    "Example",
    "Splits",
    "dedup",
    "file_sha256",
    "load_banking77",
    "load_bitext",
    "load_clinc",
    "load_labeled_file",
    "load_tickets",
    "remove_overlap",
    "split",
]

BITEXT_FILES: Final[Mapping[str, str]] = {
    "bitext_20k": "bitext_cs_intent_20k/TrainingdatasetBitextsample.csv",
    "bitext_4k": "bitext_cs_llm_tagged_4k/Bitext_Sample_Customer_Support_Training_Dataset.csv",
    "bitext_8k": "bitext_cs_service_8k/Bitext_Sample_Customer_Service_Training_Dataset.csv",
}
"""The three Bitext sets, relative to the shared datasets folder."""


@dataclass(frozen=True)
class Example:
    """One labeled message; any of the three labels may be missing (its loss is then skipped)."""

    text: str
    intent: str | None = None
    severity: float | None = None
    sentiment: Sentiment | None = None
    source: str = ""
    tags: str = ""
    """Dataset flags kept for weak labels (Bitext's letter tags, e.g. ``W`` = offensive)."""


@dataclass
class Splits:
    """Train / validation / test rows of one corpus."""

    train: list[Example] = field(default_factory=list)
    val: list[Example] = field(default_factory=list)
    test: list[Example] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[str, list[Example]]]:
        yield from (("train", self.train), ("val", self.val), ("test", self.test))

    def extend(self, other: Splits) -> None:
        self.train.extend(other.train)
        self.val.extend(other.val)
        self.test.extend(other.test)

    def sizes(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _require(path: Path) -> Path:
    if not path.exists():
        raise DatasetNotFoundError(
            f"{path}: not found (is CONCIERGE_SHARED_DATA_DIR pointing at the datasets folder?)"
        )
    return path


def _csv_rows(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` for each record; the line is where the record starts (records may span lines)."""
    _require(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise DatasetFormatError(path, "empty file", line=1) from None
        except csv.Error as exc:
            raise DatasetFormatError(path, f"unreadable CSV header: {exc}", line=1) from None
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise DatasetFormatError(
                path, f"missing column(s) {missing}; the header has {header}", line=1
            )
        line = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DatasetFormatError(path, f"malformed CSV: {exc}", line=line) from None
            if values and len(values) != len(header):
                raise DatasetFormatError(
                    path, f"expected {len(header)} fields, found {len(values)}", line=line
                )
            if values:
                yield line, dict(zip(header, values, strict=True))
            line = reader.line_num + 1


def load_bitext(
    path: Path, taxonomy: Taxonomy, *, source: str | None = None, keep_unknown: bool = False
) -> list[Example]:
    """A Bitext CSV (any of the three layouts: ``utterance``/``instruction`` text, ``flags``/``tags``),
    its intents spelled as the taxonomy spells them (``check_invoices`` -> ``check_invoice``)."""
    path = Path(path)
    name = source or path.stem
    _require(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    text_col = "utterance" if "utterance" in header else "instruction"
    tag_col = "flags" if "flags" in header else "tags"
    out: list[Example] = []
    for line, row in _csv_rows(path, [text_col, "intent"]):
        label = row["intent"].strip()
        if not label:
            raise DatasetFormatError(path, "empty intent", line=line)
        try:
            intent = taxonomy.normalize(label)
        except TaxonomyError:
            if keep_unknown:
                intent = label
            else:
                raise DatasetFormatError(
                    path, f"intent {label!r} is not in the taxonomy", line=line
                ) from None
        text = clean_text(row[text_col])
        if text:
            out.append(Example(text, intent=intent, source=name, tags=row.get(tag_col, "")))
    return out


def load_clinc(path: Path) -> dict[str, list[Example]]:
    """CLINC150's ``data_full.json`` / ``data_oos_plus.json``: split -> rows with CLINC's own labels
    (150 intents and ``oos``)."""
    path = _require(Path(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, dict):
        raise DatasetFormatError(path, "expected an object of splits", line=1)
    out: dict[str, list[Example]] = {}
    for split_name, rows in data.items():
        if not isinstance(rows, list):
            raise DatasetFormatError(path, f"split {split_name!r} is not a list")
        examples = []
        for i, pair in enumerate(rows):
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
            ):
                raise DatasetFormatError(path, f"{split_name}[{i}] is not a [text, intent] pair")
            text = clean_text(pair[0])
            if text:
                examples.append(Example(text, intent=pair[1], source=f"clinc150:{split_name}"))
        out[split_name] = examples
    return out


def load_banking77(folder: Path) -> dict[str, list[Example]]:
    """BANKING77's official ``train`` and ``test`` splits (``text,category`` CSVs)."""
    folder = Path(folder)
    out: dict[str, list[Example]] = {}
    for split_name in ("train", "test"):
        path = folder / f"{split_name}.csv"
        rows = []
        for line, row in _csv_rows(path, ["text", "category"]):
            if not row["category"].strip():
                raise DatasetFormatError(path, "empty category", line=line)
            text = clean_text(row["text"])
            if text:
                rows.append(Example(text, intent=row["category"].strip(), source="banking77"))
        out[split_name] = rows
    return out


def load_tickets(path: Path, *, languages: Iterable[str] = ("en",)) -> list[Example]:
    """Help-desk tickets (subject + body) with severity from their priority
    (:data:`labels.PRIORITY_TO_SEVERITY`); only rows in ``languages``."""
    path = Path(path)
    wanted = set(languages)
    out: list[Example] = []
    for line, row in _csv_rows(path, ["subject", "body", "priority", "language"]):
        if row["language"].strip() not in wanted:
            continue
        priority = row["priority"].strip().lower()
        if priority not in PRIORITY_TO_SEVERITY:
            raise DatasetFormatError(path, f"unknown priority {row['priority']!r}", line=line)
        subject = row["subject"].strip()
        body = row["body"].strip()
        text = clean_text(f"{subject}. {body}" if subject else body)
        if text:
            out.append(
                Example(
                    text, severity=PRIORITY_TO_SEVERITY[priority], source=f"tickets:{path.stem}"
                )
            )
    return out


_JSONL_FIELDS: Final = frozenset(
    {"text", "intent", "severity", "sentiment", "id", "lang", "note", "tags", "source"}
)


def _labeled_row(
    path: Path, line: int, row: Mapping[str, Any], taxonomy: Taxonomy | None, source: str
) -> Example | None:
    unknown = set(row) - _JSONL_FIELDS
    if unknown:
        raise DatasetFormatError(
            path, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(_JSONL_FIELDS)}", line=line
        )
    text = row.get("text")
    if not isinstance(text, str):
        raise DatasetFormatError(path, "'text' must be a string", line=line)
    intent = row.get("intent") or None
    severity_raw = row.get("severity")
    sentiment = row.get("sentiment") or None
    if intent is None and severity_raw in (None, "") and sentiment is None:
        raise DatasetFormatError(
            path, "a row needs at least one label: intent, severity or sentiment", line=line
        )
    if intent is not None:
        if not isinstance(intent, str):
            raise DatasetFormatError(path, "'intent' must be a string", line=line)
        if taxonomy is not None:
            try:
                intent = taxonomy.normalize(intent)
            except TaxonomyError:
                raise DatasetFormatError(
                    path, f"intent {intent!r} is not in the taxonomy", line=line
                ) from None
    severity: float | None = None
    if severity_raw not in (None, ""):
        try:
            severity = float(severity_raw)
        except (TypeError, ValueError):
            raise DatasetFormatError(
                path, f"severity {severity_raw!r} is not a number", line=line
            ) from None
        if not 1.0 <= severity <= 5.0:
            raise DatasetFormatError(path, f"severity {severity} is outside 1-5", line=line)
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise DatasetFormatError(
            path, f"sentiment {sentiment!r} is not one of {list(SENTIMENTS)}", line=line
        )
    tags = row.get("tags") or ""
    cleaned = clean_text(text)
    if not cleaned:
        return None
    return Example(
        cleaned,
        intent=intent,
        severity=severity,
        sentiment=sentiment,
        source=str(row.get("source") or source),
        tags=str(tags),
    )


def load_labeled_file(path: Path, taxonomy: Taxonomy | None = None) -> list[Example]:
    """A shop's own labeled messages (or ours): JSON Lines or CSV with a ``text`` column and at least
    one of ``intent`` (a taxonomy label), ``severity`` (1-5), ``sentiment`` (negative / neutral /
    positive). Blank lines in JSONL are skipped; anything else malformed is an error."""
    path = _require(Path(path))
    source = path.stem
    out: list[Example] = []
    if path.suffix.lower() == ".csv":
        for line, row in _csv_rows(path, ["text"]):
            example = _labeled_row(path, line, row, taxonomy, source)
            if example is not None:
                out.append(example)
        return out
    if path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
        raise DatasetFormatError(path, "expected a .jsonl or .csv file")
    for line, row in jsonl_objects(path):
        example = _labeled_row(path, line, row, taxonomy, source)
        if example is not None:
            out.append(example)
    return out


def jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each JSON object of a JSON Lines file with its line number; blank lines are skipped, and a
    line that is not a JSON object is an error naming it."""
    with path.open(encoding="utf-8-sig") as fh:
        for line, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DatasetFormatError(path, f"invalid JSON: {exc.msg}", line=line) from None
            if not isinstance(row, dict):
                raise DatasetFormatError(path, "each line must be a JSON object", line=line)
            yield line, row


def dedup(examples: Iterable[Example]) -> list[Example]:
    """First occurrence of each normalised text (lower case, whitespace collapsed)."""
    seen: set[str] = set()
    out: list[Example] = []
    for example in examples:
        key = dedup_key(example.text)
        if key not in seen:
            seen.add(key)
            out.append(example)
    return out


def _stratum(example: Example) -> str:
    if example.intent is not None:
        return example.intent
    if example.severity is not None:
        return f"severity:{round(example.severity)}"
    return f"sentiment:{example.sentiment}"


def split(
    examples: Sequence[Example],
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    *,
    seed: int = 13,
    key: Callable[[Example], str] = _stratum,
) -> Splits:
    """A stratified (by label) shuffled split, deduplicated first so no text is in two parts."""
    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions}")
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in dedup(examples):
        groups[key(example)].append(example)
    rng = random.Random(seed)
    out = Splits()
    for name in sorted(groups):
        rows = groups[name]
        rng.shuffle(rows)
        n_val = round(len(rows) * fractions[1])
        n_test = round(len(rows) * fractions[2])
        if len(rows) >= 3:
            n_val, n_test = (
                max(n_val, 1 if fractions[1] else 0),
                max(n_test, 1 if fractions[2] else 0),
            )
        out.test.extend(rows[:n_test])
        out.val.extend(rows[n_test : n_test + n_val])
        out.train.extend(rows[n_test + n_val :])
    for _, part in out:
        rng.shuffle(part)
    return out


def remove_overlap(splits: Splits, *, also_against: Iterable[Example] = ()) -> Splits:
    """Drop from validation and test every text also in train (or in ``also_against``), and from test
    every text in validation, so no evaluation row was seen in training."""
    seen = {dedup_key(e.text) for e in splits.train} | {dedup_key(e.text) for e in also_against}
    val = [e for e in dedup(splits.val) if dedup_key(e.text) not in seen]
    seen |= {dedup_key(e.text) for e in val}
    test = [e for e in dedup(splits.test) if dedup_key(e.text) not in seen]
    return Splits(train=dedup(splits.train), val=val, test=test)


def with_labels(example: Example, **changes: Any) -> Example:
    """A copy of ``example`` with some fields replaced."""
    return replace(example, **changes)
