"""Whether the knowledge base answers a question at all: the coverage estimate behind
``RetrievalResult.covered``.

Two methods (``CONCIERGE_KB_COVERAGE``):

- ``threshold``: the best query-to-chunk cosine similarity against ``kb_coverage_threshold``. It
  catches off-topic questions but not on-topic ones the documents happen not to answer ("does the
  cooler have wheels?" is close to the cooler's description).
- ``model``: a logistic regression over signals of both retrievers (:data:`FEATURES`): how similar
  the best chunks are and how clearly the best one stands out, how much of the question's
  IDF-weighted vocabulary the best chunks contain, whether the corpus knows those words at all,
  and how strongly BM25 matches. It is trained on labeled questions (``concierge bench retrieval``
  fits it on the dev half of the retrieval QA set) and stored as JSON under ``var_dir/models``;
  without that file the knowledge base falls back to the threshold.

Coverage never changes which passages a search returns, only whether they answer the question.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, get_args

import numpy as np

from knowledge.errors import CoverageModelError
from knowledge.lexical import BM25Index, LexicalHit, function_terms
from knowledge.vectorstore import DenseHit

CoverageMethod = Literal["threshold", "model"]
COVERAGE_METHODS: tuple[CoverageMethod, ...] = get_args(CoverageMethod)

FEATURES: Final[tuple[str, ...]] = (
    "dense_top",
    "dense_margin",
    "dense_gap",
    "terms_in_top",
    "terms_in_top3",
    "body_terms_in_top",
    "terms_in_bm25_top",
    "known_terms",
    "bm25_top",
    "bm25_margin",
    "tops_agree",
    "query_terms",
)
"""The model's inputs, in order (see :func:`coverage_features`)."""

DENSE_DEPTH: Final = 6
"""Dense hits the features read (the best and the five after it)."""

MODEL_VERSION: Final = 2
"""Bumped whenever :data:`FEATURES` or their definitions change; older model files are refused."""


def coverage_features(
    terms: Sequence[str],
    dense: Sequence[DenseHit],
    lexical: Sequence[LexicalHit],
    index: BM25Index,
) -> dict[str, float]:
    """The coverage signals of one search, by :data:`FEATURES` name.

    ``terms`` is the searched query through :func:`knowledge.lexical.tokenize`; ``dense`` and
    ``lexical`` are the hits best first (at least :data:`DENSE_DEPTH` dense ones when the corpus
    has them); ``index`` supplies the corpus's term statistics. Term fractions are weighted by IDF
    so that the rare words that carry a question ("wheels", "Gore-Tex") count most; function words
    ("does", "my") are left out."""
    stop = function_terms()
    unique = [t for t in dict.fromkeys(terms) if t not in stop]
    weight = {t: index.idf(t) for t in unique}
    total = sum(weight.values())

    def share(found: set[str] | frozenset[str], among: Sequence[str]) -> float:
        wanted = sum(weight[t] for t in among)
        return sum(weight[t] for t in among if t in found) / wanted if wanted else 1.0

    sims = [h.similarity for h in dense[:DENSE_DEPTH]]
    top = sims[0] if sims else 0.0
    second = sims[1] if len(sims) > 1 else 0.0
    rest = sims[1:DENSE_DEPTH]
    top_id = dense[0].chunk.id if dense else ""
    top_terms = index.chunk_terms(top_id)
    top3_terms: set[str] = set().union(*(index.chunk_terms(h.chunk.id) for h in dense[:3]))
    # Words of the question that name the document (a product's name) are matched by any chunk of
    # it; whether the *rest* of the question is in the text is what tells an answer apart.
    heading = index.heading_terms(top_id)
    body = [t for t in unique if t not in heading]
    scores = [h.score for h in lexical[:2]]
    return {
        "dense_top": top,
        "dense_margin": top - second,
        "dense_gap": top - (sum(rest) / len(rest) if rest else 0.0),
        "terms_in_top": share(top_terms, unique),
        "terms_in_top3": share(top3_terms, unique),
        "body_terms_in_top": share(top_terms, body),
        "terms_in_bm25_top": share(index.chunk_terms(lexical[0].chunk.id), unique)
        if lexical
        else 0.0,
        "known_terms": share({t for t in unique if index.document_frequency(t)}, unique),
        "bm25_top": scores[0] / total if scores and total else 0.0,
        "bm25_margin": (scores[0] - scores[1]) / total if len(scores) > 1 and total else 0.0,
        "tops_agree": float(bool(lexical) and lexical[0].chunk.id == top_id),
        "query_terms": math.log1p(len(unique)),
    }


@dataclass(frozen=True)
class CoverageModel:
    """A logistic regression ``P(answerable | features)`` on standardised :data:`FEATURES`;
    ``covered`` is ``probability >= threshold``."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    features: tuple[str, ...] = FEATURES
    version: int = MODEL_VERSION
    trained: dict[str, Any] = field(default_factory=dict)
    """Provenance: what it was fitted on and how it did there (for people, not for prediction)."""

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.weights) == len(self.mean) == len(self.scale) == n):
            raise CoverageModelError(f"a coverage model needs {n} weights, means and scales")

    def probability(self, features: Mapping[str, float]) -> float:
        """How likely the search's passages answer the question (0..1)."""
        x = np.array([features[name] for name in self.features], dtype=np.float64)
        z = (x - np.array(self.mean)) / np.array(self.scale)
        logit = float(z @ np.array(self.weights)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))

    def save(self, path: Path) -> Path:
        """Write the model as JSON (creating the folder)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> CoverageModel:
        """Read a model written by :meth:`save`; raises :class:`CoverageModelError` for a missing,
        malformed or out-of-date file."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CoverageModelError(f"no coverage model at {path}") from None
        except (OSError, ValueError) as exc:
            raise CoverageModelError(f"cannot read the coverage model {path}: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("version") != MODEL_VERSION:
            raise CoverageModelError(
                f"{path} is not a version-{MODEL_VERSION} coverage model; retrain it with "
                "`concierge bench retrieval`"
            )
        if tuple(raw.get("features", ())) != FEATURES:
            raise CoverageModelError(f"{path} was trained on other features; retrain it")
        try:
            return cls(
                weights=tuple(float(w) for w in raw["weights"]),
                bias=float(raw["bias"]),
                mean=tuple(float(m) for m in raw["mean"]),
                scale=tuple(float(s) for s in raw["scale"]),
                threshold=float(raw["threshold"]),
                trained=dict(raw.get("trained") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CoverageModelError(f"{path} is not a valid coverage model: {exc}") from exc


def load_coverage_model(path: Path) -> CoverageModel | None:
    """The model at ``path``, or None when there is none (the caller falls back to the threshold).
    A file that exists but cannot be used still raises :class:`CoverageModelError`."""
    return CoverageModel.load(path) if path.is_file() else None


@dataclass(frozen=True)
class CoverageTraining:
    """How :func:`train_coverage_model` fits and calibrates."""

    min_detection: float = 0.85
    """The threshold is the highest-coverage one that still flags this share of the unanswerable
    training questions (measured out of fold): leaving an unanswerable question "covered" invites
    an invented answer, which costs more than an honest "I don't have that"."""
    regularization: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
    """Inverse L2 strengths (scikit-learn's ``C``) to choose from, by out-of-fold ROC AUC."""
    folds: int = 5
    seed: int = 0


def train_coverage_model(
    features: Sequence[Mapping[str, float]],
    answerable: Sequence[bool],
    args: CoverageTraining | None = None,
) -> CoverageModel:
    """Fit a :class:`CoverageModel` on labeled searches (``features`` from
    :func:`coverage_features`, ``answerable`` whether the corpus answers each question).

    The regularization is chosen and the threshold calibrated on out-of-fold probabilities, so
    neither is fooled by the model having seen the very questions it is judged on. Deterministic
    for a given input."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    args = args or CoverageTraining()
    x = np.array([[f[name] for name in FEATURES] for f in features], dtype=np.float64)
    y = np.array(answerable, dtype=bool)
    if len(x) != len(y) or y.all() or not y.any():
        raise CoverageModelError("training needs answerable and unanswerable examples, one each")
    folds = min(args.folds, int(y.sum()), int((~y).sum()))
    if folds < 2:
        raise CoverageModelError("training needs at least two examples of each kind")

    def fit(rows: np.ndarray, labels: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, Any]:
        mean, scale = rows.mean(axis=0), rows.std(axis=0)
        scale = np.where(scale > 1e-9, scale, 1.0)  # a constant feature must not divide by zero
        model = LogisticRegression(
            C=c, class_weight="balanced", max_iter=5000, random_state=args.seed
        )
        model.fit((rows - mean) / scale, labels)
        return mean, scale, model

    def out_of_fold(c: float) -> np.ndarray:
        scores = np.zeros(len(y))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=args.seed)
        for train, held in splitter.split(x, y):
            mean, scale, model = fit(x[train], y[train], c)
            scores[held] = model.predict_proba((x[held] - mean) / scale)[:, 1]
        return scores

    candidates = {c: out_of_fold(c) for c in args.regularization}
    auc = {c: float(roc_auc_score(y, scores)) for c, scores in candidates.items()}
    best = max(args.regularization, key=lambda c: (auc[c], -c))  # ties: the simpler model
    threshold = calibrate_threshold(candidates[best], y, args.min_detection)
    mean, scale, model = fit(x, y, best)
    covered = candidates[best] >= threshold
    return CoverageModel(
        weights=tuple(float(w) for w in model.coef_[0]),
        bias=float(model.intercept_[0]),
        mean=tuple(float(m) for m in mean),
        scale=tuple(float(s) for s in scale),
        threshold=threshold,
        trained={
            "examples": len(y),
            "answerable": int(y.sum()),
            "unanswerable": int((~y).sum()),
            "min_detection": args.min_detection,
            "regularization": best,
            "out_of_fold_auc": {str(c): round(a, 4) for c, a in auc.items()},
            "out_of_fold_detection": float((~covered[~y]).mean()),
            "out_of_fold_answerable_covered": float(covered[y].mean()),
        },
    )


def calibrate_threshold(scores: np.ndarray, answerable: np.ndarray, min_detection: float) -> float:
    """The highest-coverage threshold on ``scores`` that flags (``score < threshold``) at least
    ``min_detection`` of the unanswerable ones: the midpoint between the neighbouring scores, so a
    new score equal to a training one lands on the side it was counted on."""
    negatives = np.sort(scores[~answerable])
    # Flagging the lowest `needed` negatives is the least that meets the target.
    needed = min(len(negatives), math.ceil(min_detection * len(negatives) - 1e-9))
    if needed == 0:
        return float(scores.min())
    edge = negatives[needed - 1]
    above = scores[scores > edge]
    return float((edge + above.min()) / 2) if above.size else float(edge + 1e-6)


__all__ = [
    "COVERAGE_METHODS",
    "DENSE_DEPTH",
    "FEATURES",
    "MODEL_VERSION",
    "CoverageMethod",
    "CoverageModel",
    "CoverageTraining",
    "calibrate_threshold",
    "coverage_features",
    "load_coverage_model",
    "train_coverage_model",
]
