"""The training corpus of the concierge classifier: every source, its labels and its splits.

Sources (third-party ones read from the shared datasets folder):

- Bitext 20k + 4k (intents; weak severity and sentiment from ``labels``), deduplicated, split 80/10/10.
- Our examples (``data/intents_extra.jsonl``: return_item, exchange_item, product_availability,
  out_of_scope; ``data/intents_natural.jsonl`` and ``data/intents_more.jsonl``: untemplated messages
  for every intent, so that plain customer wording is not learnt as "out of scope";
  ``data/intents_es_fr.jsonl``: Spanish and French), split 80/10/10.
- Out-of-scope negatives from CLINC150 (``data_oos_plus.json``): ``oos_train`` -> train, ``oos_val`` ->
  validation, and a few in-scope examples of every CLINC intent that is not a shop request (the intents
  that are, like ``order_status``, are left out). ``oos_test`` is held out.
- Help-desk tickets (severity from priority): the two training files split 80/10/10;
  ``tickets_multi-lang3-4k_prefix.csv`` held out.
- Our severity sets (``data/severity.jsonl``, ``data/severity_more.jsonl``: severity + sentiment),
  split 80/10/10.
- A shop's own labeled files (``--data``), split 80/10/10.

Held out for evaluation only: the Bitext 8k service set minus every text in the training pool, the
held-out tickets file, CLINC ``oos_test``, and our natural-wording set (``data/natural_eval.jsonl``).
Validation and test rows never share a normalised text with training rows.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from classifiers.datasets import (
    BITEXT_FILES,
    Example,
    Splits,
    dedup,
    file_sha256,
    load_bitext,
    load_clinc,
    load_labeled_file,
    load_tickets,
    remove_overlap,
    split,
)
from classifiers.labels import weak_sentiment, weak_severity
from classifiers.preprocessing import dedup_key
from classifiers.taxonomy import Taxonomy

__all__ = [
    "CLINC_SHOP_INTENTS",
    "DATA_DIR",
    "TICKETS_HELDOUT",
    "TICKETS_TRAIN",
    "Corpus",
    "CorpusConfig",
    "build_corpus",
    "frozen_encoder_rows",
]

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
"""Our own labeled files, shipped with the package."""

OWN_INTENT_FILES: Final = ("intents_extra.jsonl", "intents_natural.jsonl")
"""Our intent training files: the four intents Bitext lacks, and ten messages in natural wording a
Bitext intent."""

OWN_SEVERITY_FILES: Final = ("severity.jsonl",)
"""Our severity and sentiment training file, by ``data/SEVERITY_RUBRIC.md``."""

NEW_ROWS_FILES: Final = ("intents_more.jsonl", "intents_es_fr.jsonl", "severity_more.jsonl")
"""Training rows written for issue 16 (856 natural English, 987 Spanish and French, 629 severity rows
by ``data/FRUSTRATION_RUBRIC.md``): on by default, off with ``new_rows=False`` (``concierge train
--no-new-rows``, the earlier model, for comparison; the tests' tiny models, to stay small)."""

HARD_ROWS_FILES: Final = (
    "intents_hard.jsonl",
    "severity_hard.jsonl",
    "severity_boundary.jsonl",
    "severity_identity.jsonl",
)
"""Rows for hard cases, trained on by the English model only with ``hard_rows`` (``concierge train
--hard-rows``; the heads on the frozen multilingual encoder always read them,
:func:`frozen_encoder_rows`): 295
intent cases (out-of-scope requests in shop words about other companies, reaching the shop, reviews,
invoices) and 170 severity rows (quiet threats, annoyed but routine requests); 320 severity rows at
the frustration rubric's tone boundaries and 46 routine messages carrying the customer's identity
details. In quick models they raised natural out-of-scope recall 0.68 -> 0.82 and lowered the
frustration set's severity MAE 0.50 -> 0.43, but moved natural English accuracy by as much as a
retrain does, down as often as up (``classifiers/README.md``)."""

OWN_REPEATED: Final = frozenset(
    {
        "severity",
        "severity_more",
        "severity_boundary",
        "severity_identity",
        "severity_hard",
        "intents_natural",
        "intents_more",
        "intents_hard",
        "intents_es_fr",
    }
)
"""Sources repeated ``own_repeat`` times in training: the only untemplated wording and the only
e-commerce severity labels, which thousands of templated and weakly labelled rows would drown."""

CLINC_FILE: Final = "clinc150/data_oos_plus.json"
TICKETS_DIR: Final = "customer_support_tickets_tobi_bueck_subset"
TICKETS_TRAIN: Final = (
    "tickets_multi-lang-4-20k_prefix.csv",
    "tickets_multi-lang-5-2-50-version_prefix.csv",
)
TICKETS_HELDOUT: Final = "tickets_multi-lang3-4k_prefix.csv"

CLINC_SHOP_INTENTS: Final = frozenset(
    {
        # A shop's agent should handle these, so they are not out-of-scope negatives.
        "order", "order_status", "shopping_list", "shopping_list_update", "card_declined",
        "report_fraud", "transactions", "damaged_card", "report_lost_card", "new_card",
        "replacement_card_duration", "expiration_date", "redeem_rewards", "rewards_balance",
        "greeting", "goodbye", "thank_you", "are_you_a_bot", "what_can_i_ask_you",
        "who_do_you_work_for", "yes", "no", "maybe", "cancel", "repeat", "user_name",
        "change_user_name", "pin_change", "freeze_account", "account_blocked", "balance",
        "bill_balance", "bill_due", "pay_bill", "application_status", "international_fees",
    }
)  # fmt: skip


@dataclass(frozen=True)
class CorpusConfig:
    """What goes into the corpus; ``quick`` presets keep a first run within minutes."""

    data_dir: Path
    taxonomy: Taxonomy
    seed: int = 13
    max_train_per_intent: int | None = 700
    """Cap of Bitext training rows per intent (the 20k set is heavily imbalanced)."""
    max_eval_per_intent: int | None = None
    """Cap of Bitext validation / test rows per intent (``None``: all)."""
    min_train_per_intent: int | None = 200
    """Intents with fewer training rows (ours, cancel_order) are repeated up to this many."""
    own_repeat: int = 3
    """Times our hand-written severity and plain-wording rows appear in training."""
    max_clinc_oos_train: int | None = None
    """Cap of CLINC ``oos_train`` rows (250 in ``data_oos_plus``)."""
    clinc_negatives_per_intent: int = 6
    """CLINC in-scope rows per non-shop intent added to training as out_of_scope."""
    tickets: bool = True
    max_tickets_train: int | None = None
    max_heldout: int | None = None
    """Cap of rows per held-out set (quick mode evaluates on samples)."""
    extra_files: Sequence[Path] = ()
    own_files: bool = True
    """Include our files from ``classifiers/data`` (tests turn this off to stay small)."""
    new_rows: bool = True
    """Among them, :data:`NEW_ROWS_FILES`."""
    hard_rows: bool = False
    """And :data:`HARD_ROWS_FILES`."""


@dataclass
class Corpus:
    """Train / validation / test rows of all sources, and held-out evaluation sets."""

    splits: Splits
    heldout: dict[str, list[Example]] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    """file -> {"sha256", "rows", "used_as"} for the model card."""

    def summary(self) -> dict[str, Any]:
        return {
            "splits": self.splits.sizes(),
            "heldout": {k: len(v) for k, v in self.heldout.items()},
            "sources": self.sources,
        }


def _with_weak_labels(rows: Sequence[Example]) -> list[Example]:
    out = []
    for r in rows:
        severity = r.severity if r.severity is not None else weak_severity(r.text, r.intent, r.tags)
        sentiment = r.sentiment or weak_sentiment(r.text, r.intent, r.tags)
        out.append(replace(r, severity=severity, sentiment=sentiment))
    return out


def _cap_per_intent(rows: Sequence[Example], cap: int | None, rng: random.Random) -> list[Example]:
    if cap is None:
        return list(rows)
    groups: dict[str | None, list[Example]] = defaultdict(list)
    for r in rows:
        groups[r.intent].append(r)
    out: list[Example] = []
    for key in sorted(groups, key=str):
        group = groups[key]
        out.extend(rng.sample(group, cap) if len(group) > cap else group)
    rng.shuffle(out)
    return out


def _upsample(rows: Sequence[Example], floor: int | None, rng: random.Random) -> list[Example]:
    """Repeat rows of intents with fewer than ``floor`` training rows (train only: never evaluated)."""
    if floor is None:
        return list(rows)
    groups: dict[str, list[Example]] = defaultdict(list)
    for r in rows:
        if r.intent is not None:
            groups[r.intent].append(r)
    out = list(rows)
    for key in sorted(groups):
        group = groups[key]
        missing = floor - len(group)
        if missing > 0:
            out.extend(group[i % len(group)] for i in range(missing))
    rng.shuffle(out)
    return out


def _sample(rows: Sequence[Example], n: int | None, rng: random.Random) -> list[Example]:
    return list(rows) if n is None or len(rows) <= n else rng.sample(list(rows), n)


HELDOUT_FILES: Final = (
    "natural_eval.jsonl",
    "natural_test.jsonl",
    "spanish_test.jsonl",
    "french_test.jsonl",
    "frustration_test.jsonl",
    "frustration_test2.jsonl",
)
"""Our test sets (``data/TEST_SETS.md``): evaluated by ``classifiers.heldout``, never trained on."""


def _own_rows(path: Path, tax: Taxonomy) -> list[Example]:
    """One of our training files, each row's source its file's name (a row's own ``source`` says
    who wrote it: ``written`` by us, or ``drafted`` by a model and kept by a person)."""
    return [replace(e, source=path.stem) for e in load_labeled_file(path, tax)]


def _heldout_keys() -> set[str]:
    keys: set[str] = set()
    for name in HELDOUT_FILES:
        path = DATA_DIR / name
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    keys.add(dedup_key(json.loads(line)["text"]))
    return keys


def frozen_encoder_rows(config: CorpusConfig) -> Splits:
    """Our hard-case rows (:data:`HARD_ROWS_FILES`) that ``config`` leaves out of the corpus, split
    as the corpus splits them, for the heads on the multilingual encoder. Those rows are opt-in for
    the English model because they move its shared encoder, and every reading with it; the
    multilingual encoder is frozen, so they can only teach its heads what they are about."""
    out = Splits()
    if config.hard_rows or not config.own_files:
        return out
    held = _heldout_keys()
    for name in HARD_ROWS_FILES:
        rows = _own_rows(DATA_DIR / name, config.taxonomy)
        if name.startswith("intents"):
            rows = _with_weak_labels(rows)
        out.extend(split(rows, seed=config.seed))
    for part_name, part in out:
        setattr(out, part_name, [e for e in part if dedup_key(e.text) not in held])
    return out


def build_corpus(config: CorpusConfig) -> Corpus:
    """Load, label, split and de-duplicate every source (see the module docstring)."""
    rng = random.Random(config.seed)
    tax = config.taxonomy
    oos = tax.out_of_scope
    data = Path(config.data_dir)
    corpus = Corpus(splits=Splits())

    def record(path: Path, rows: int, used_as: str) -> None:
        corpus.sources[str(path)] = {"sha256": file_sha256(path), "rows": rows, "used_as": used_as}

    # Bitext training pool (20k + 4k): the two share 15 texts and the 20k repeats ~1.8k.
    pool: list[Example] = []
    for name in ("bitext_20k", "bitext_4k"):
        path = data / BITEXT_FILES[name]
        rows = load_bitext(path, tax, source=name)
        record(path, len(rows), "train/val/test (80/10/10)")
        pool.extend(rows)
    pool = dedup(pool)
    bitext = split(pool, seed=config.seed)
    # Weak labels after capping: VADER over all 24k rows would cost seconds for nothing.
    bitext.train = _with_weak_labels(
        _cap_per_intent(bitext.train, config.max_train_per_intent, rng)
    )
    bitext.val = _with_weak_labels(_cap_per_intent(bitext.val, config.max_eval_per_intent, rng))
    bitext.test = _with_weak_labels(_cap_per_intent(bitext.test, config.max_eval_per_intent, rng))
    corpus.splits.extend(bitext)

    if config.own_files:
        new = (
            *(NEW_ROWS_FILES if config.new_rows else ()),
            *(HARD_ROWS_FILES if config.hard_rows else ()),
        )
        for name in (*OWN_INTENT_FILES, *(n for n in new if n.startswith("intents"))):
            path = DATA_DIR / name
            rows = _own_rows(path, tax)
            record(path, len(rows), "train/val/test (80/10/10)")
            corpus.splits.extend(split(_with_weak_labels(rows), seed=config.seed))
        for name in (*OWN_SEVERITY_FILES, *(n for n in new if n.startswith("severity"))):
            path = DATA_DIR / name
            rows = _own_rows(path, tax)
            record(path, len(rows), "train/val/test (80/10/10), severity + sentiment")
            corpus.splits.extend(split(rows, seed=config.seed))

    # Out-of-scope negatives from CLINC150.
    path = data / CLINC_FILE
    clinc = load_clinc(path)
    record(path, sum(len(v) for v in clinc.values()), "out_of_scope negatives; oos_test held out")

    def as_oos(rows: Sequence[Example]) -> list[Example]:
        return _with_weak_labels([replace(r, intent=oos, severity=1.0) for r in rows])

    def other_domain(rows: Sequence[Example], per_intent: int) -> list[Example]:
        if per_intent <= 0:
            return []
        groups: dict[str, list[Example]] = defaultdict(list)
        for r in rows:
            if r.intent not in CLINC_SHOP_INTENTS and r.intent != "oos":
                groups[str(r.intent)].append(r)
        return [x for k in sorted(groups) for x in _sample(groups[k], per_intent, rng)]

    per = config.clinc_negatives_per_intent
    oos_train = _sample(clinc["oos_train"], config.max_clinc_oos_train, rng)
    corpus.splits.train.extend(as_oos(oos_train + other_domain(clinc["train"], per)))
    corpus.splits.val.extend(as_oos(clinc["oos_val"] + other_domain(clinc["val"], (per + 2) // 3)))
    corpus.heldout["clinc_oos_test"] = as_oos(_sample(clinc["oos_test"], config.max_heldout, rng))

    if config.tickets:
        tickets_dir = data / TICKETS_DIR
        tickets: list[Example] = []
        for name in TICKETS_TRAIN:
            path = tickets_dir / name
            rows = load_tickets(path)
            record(path, len(rows), "severity train/val/test (80/10/10)")
            tickets.extend(rows)
        ticket_splits = split(tickets, seed=config.seed)
        ticket_splits.train = _sample(ticket_splits.train, config.max_tickets_train, rng)
        ticket_splits.val = _sample(ticket_splits.val, config.max_heldout, rng)
        ticket_splits.test = _sample(ticket_splits.test, config.max_heldout, rng)
        for part_name, part in ticket_splits:
            setattr(ticket_splits, part_name, _with_weak_labels(part))
        corpus.splits.extend(ticket_splits)
        path = tickets_dir / TICKETS_HELDOUT
        held = load_tickets(path)
        record(path, len(held), "severity held-out test")
        corpus.heldout["tickets_heldout"] = _with_weak_labels(
            _sample(held, config.max_heldout, rng)
        )

    for path in config.extra_files:
        rows = load_labeled_file(Path(path), tax)
        record(Path(path), len(rows), "shop data: train/val/test (80/10/10)")
        corpus.splits.extend(split(_with_weak_labels(rows), seed=config.seed))

    # Our held-out sets are never trained on, nor used to calibrate or select: any row with the same
    # normalised text leaves every split.
    ours_held = _heldout_keys()
    for part_name, part in corpus.splits:
        setattr(corpus.splits, part_name, [e for e in part if dedup_key(e.text) not in ours_held])
    corpus.splits = remove_overlap(corpus.splits)
    # Our hand-written severity rows are the only e-commerce severity and sentiment annotations, and
    # our plain-wording intent rows the only untemplated ones: repeated so that thousands of
    # templated and weakly labeled rows do not drown them.
    ours = [e for e in corpus.splits.train if e.source in OWN_REPEATED]
    corpus.splits.train.extend(ours * max(0, config.own_repeat - 1))
    corpus.splits.train = _upsample(corpus.splits.train, config.min_train_per_intent, rng)
    train_keys = {dedup_key(e.text) for e in corpus.splits.train} | {
        dedup_key(e.text) for e in pool
    }

    # Bitext 8k: the held-out intent test, minus anything in the training pool.
    path = data / BITEXT_FILES["bitext_8k"]
    service = load_bitext(path, tax, source="bitext_8k")
    record(path, len(service), "held-out intent test (minus the training pool)")
    service = [e for e in dedup(service) if dedup_key(e.text) not in train_keys]
    corpus.heldout["bitext_8k"] = _with_weak_labels(_sample(service, config.max_heldout, rng))

    if config.own_files:
        path = DATA_DIR / "natural_eval.jsonl"
        natural = load_labeled_file(path, tax)
        record(path, len(natural), "held-out natural-wording intent test")
        corpus.heldout["natural"] = _with_weak_labels(
            [e for e in natural if dedup_key(e.text) not in train_keys]
        )
    for name, rows in corpus.heldout.items():
        corpus.heldout[name] = [e for e in rows if dedup_key(e.text) not in train_keys]
    return corpus
