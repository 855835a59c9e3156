"""The classifier the agent calls: the ONNX int8 model on onnxruntime (no torch in the process).

    clf = Classifier.from_pretrained()            # Settings().resolved_model_dir / "classifier"
    p = clf.predict("where is my order #W1234567??")
    p.intent, p.confidence, p.out_of_scope, p.severity, p.sentiment, p.entities

``predict`` takes one text (returns one :class:`Prediction`) or a sequence (returns a list). The object
is thread-safe: onnxruntime sessions may be run concurrently, and the tokenizer is only read.

int8 dynamic quantisation computes activation scales per batch, so a message's probabilities can move
by a percent or two with its batch-mates (decisions rarely change); ``threads=1`` and batch-1 calls give
exactly reproducible numbers.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, overload

import numpy as np
from numpy.typing import NDArray

from classifiers.calibration import softmax
from classifiers.entities import Entity, EntityExtractor
from classifiers.errors import ModelNotFoundError
from classifiers.labels import SENTIMENTS, Sentiment
from classifiers.multilingual import (
    HEAD_FILE,
    EscalationHead,
    MultilingualHead,
    embed,
    encoder_available,
)
from classifiers.preprocessing import clean_text
from classifiers.tokenization import encode_batch, load_tokenizer

__all__ = ["CONFIG_FILE", "DEFAULT_MODEL_NAME", "Classifier", "Prediction"]

CONFIG_FILE: Final = "classifier.json"
DEFAULT_MODEL_NAME: Final = "classifier"
"""Sub-folder of ``Settings().resolved_model_dir`` that ``concierge train`` writes."""
SEVERITY_SECOND_OPINION_FROM: Final = 2.0
"""With ``english_severity_head``, English messages the main model reads at this severity or above
(or as negative) get the severity head's reading too (chosen on the validation rubric rows: MAE
0.43 from 2.5, 0.38 from 2.0, 0.38 for every message); calm questions and thanks below it keep the
main model's reading and speed."""


@dataclass(frozen=True)
class Prediction:
    """What the classifier says about one message."""

    text: str
    intent: str
    """The top intent, or the taxonomy's out_of_scope intent when the model is not confident."""
    category: str
    confidence: float
    """Calibrated probability of the top intent (temperature-scaled softmax)."""
    top_k: tuple[tuple[str, float], ...]
    """The k most probable intents with their calibrated probabilities."""
    out_of_scope: bool
    severity: float
    """1 (nothing wrong) to 5 (safety, fraud, legal): see classifiers/data/SEVERITY_RUBRIC.md."""
    sentiment: Sentiment
    sentiment_score: float
    """P(positive) - P(negative), in [-1, 1]."""
    entities: tuple[Entity, ...] = field(default_factory=tuple)
    escalate: bool | None = None
    """Whether a person should take over, where the escalation head read the message; ``None``
    where it did not (then the severity and sentiment thresholds decide)."""

    @property
    def severity_level(self) -> int:
        return int(min(5, max(1, round(self.severity))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "category": self.category,
            "confidence": round(self.confidence, 4),
            "top_k": [[name, round(p, 4)] for name, p in self.top_k],
            "out_of_scope": self.out_of_scope,
            "severity": round(self.severity, 3),
            "severity_level": self.severity_level,
            "sentiment": self.sentiment,
            "sentiment_score": round(self.sentiment_score, 4),
            "escalate": self.escalate,
            "entities": [
                {"type": e.type, "value": e.value, "start": e.start, "end": e.end, "score": e.score}
                for e in self.entities
            ],
        }


@dataclass(frozen=True)
class _Reading:
    """A batch read: calibrated intent probabilities, severity, and the escalation head's decision
    (1 / 0, or -1 where it did not read the message)."""

    probs: NDArray[np.float64]
    severity: NDArray[np.float32]
    escalate: NDArray[np.int8]


def _default_threads() -> int:
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(4, cores // 2)


class Classifier:
    """Intent (+ calibrated confidence, top-k, out-of-scope), severity, sentiment and entities."""

    def __init__(
        self,
        folder: Path,
        *,
        catalog: Iterable[str] = (),
        threads: int | None = None,
        top_k: int = 3,
        batch_size: int = 32,
        second_opinion_below: float | None = None,
        english_severity_head: bool | None = None,
        escalation_head: bool | None = None,
    ) -> None:
        import onnxruntime as ort

        self.folder = Path(folder)
        config_path = self.folder / CONFIG_FILE
        if not config_path.exists():
            raise ModelNotFoundError(
                f"{self.folder}: no trained classifier here (run `concierge train --quick`)"
            )
        self.config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
        onnx_path = self.folder / self.config["onnx"]
        if not onnx_path.exists():
            raise ModelNotFoundError(f"{onnx_path}: missing (re-run `concierge train`)")
        self.intents: tuple[str, ...] = tuple(self.config["intents"])
        self.categories: dict[str, str] = dict(self.config["categories"])
        self.out_of_scope_intent: str = self.config["out_of_scope"]
        self.oos_index = self.intents.index(self.out_of_scope_intent)
        self.temperature = float(self.config["temperature"])
        self.threshold = float(self.config["oos_threshold"])
        self.top_k = max(1, min(top_k, len(self.intents)))
        if second_opinion_below is None or english_severity_head is None or escalation_head is None:
            from tools.settings import get_settings

            settings = get_settings()
            if second_opinion_below is None:
                second_opinion_below = settings.classifier_second_opinion_below
            if english_severity_head is None:
                english_severity_head = settings.classifier_english_severity_head
            if escalation_head is None:
                escalation_head = settings.classifier_escalation_head
        self.second_opinion_below = second_opinion_below
        """English messages read below this confidence get the multilingual head's reading too."""
        self.english_severity_head = english_severity_head
        """English messages the main model reads as possibly severe get the severity head's too."""
        self.escalation_head = escalation_head
        """English messages the main model reads as possibly severe get the escalation head's
        decision (Spanish and French ones always do, where the head has one)."""
        self.batch_size = batch_size
        self.extractor = EntityExtractor(catalog)
        self._tokenizer = load_tokenizer(self.folder, int(self.config["max_length"]))
        self._tokenizer_lock = threading.Lock()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _default_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Spinning threads burn the cores the API and the LLM share; measured on 2 busy cores,
        # batch-1 latency was 2.8 ms without spinning and up to 7.8 ms with it.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        head_path = self.folder / HEAD_FILE
        self.multilingual: MultilingualHead | None = None
        if head_path.exists() and encoder_available():
            head = MultilingualHead.load(head_path)
            if head.intents != self.intents:
                raise ModelNotFoundError(
                    f"{head_path}: trained on other intents than {config_path} (re-run `concierge train`)"
                )
            self.multilingual = head

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages the model reads: English, and those of its multilingual head."""
        return ("en", *(self.multilingual.languages if self.multilingual else ()))

    @classmethod
    def from_pretrained(
        cls,
        folder: Path | str | None = None,
        *,
        catalog: Iterable[str] = (),
        threads: int | None = None,
        top_k: int | None = None,
        second_opinion_below: float | None = None,
        english_severity_head: bool | None = None,
        escalation_head: bool | None = None,
    ) -> Classifier:
        """Load a trained classifier (default: the one ``concierge train`` wrote); ``catalog`` is the
        shop's product names for entity matching. Threads and top-k default to the settings."""
        from tools.settings import get_settings

        settings = get_settings()
        path = (
            Path(folder) if folder is not None else settings.resolved_model_dir / DEFAULT_MODEL_NAME
        )
        return cls(
            path,
            catalog=catalog,
            threads=threads or settings.classifier_threads,
            top_k=top_k or settings.classifier_top_k,
            second_opinion_below=second_opinion_below,
            english_severity_head=english_severity_head,
            escalation_head=escalation_head,
        )

    def set_catalog(self, catalog: Iterable[str]) -> None:
        """Replace the product names entities are matched against."""
        self.extractor = EntityExtractor(catalog)

    def raw_outputs(
        self, texts: Sequence[str]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """Intent logits, severity and sentiment logits for cleaned, non-blank ``texts``."""
        n = len(texts)
        intent = np.zeros((n, len(self.intents)), dtype=np.float32)
        severity = np.ones(n, dtype=np.float32)
        sentiment = np.zeros((n, len(SENTIMENTS)), dtype=np.float32)
        order = sorted(range(n), key=lambda i: len(texts[i]))
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            with self._tokenizer_lock:
                ids, mask = encode_batch(self._tokenizer, [texts[i] for i in idx])
            logits, sev, senti = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            intent[idx] = logits
            severity[idx] = sev
            sentiment[idx] = senti
        return intent, severity, sentiment

    def predict_proba(
        self, texts: Sequence[str], *, language: str | None = None
    ) -> NDArray[np.float64]:
        """Calibrated intent probabilities, one row per text, columns in ``self.intents`` order;
        texts in a ``language`` of the multilingual head are read by it."""
        cleaned = [clean_text(t) or "." for t in texts]
        logits, severity, sentiment = self.raw_outputs(cleaned)
        return self._second_reading(cleaned, logits, severity, sentiment, language).probs

    def _second_reading(
        self,
        texts: Sequence[str],
        logits: NDArray[np.float32],
        severity: NDArray[np.float32],
        sentiment: NDArray[np.float32],
        language: str | None,
    ) -> _Reading:
        """Calibrated intent probabilities, severity and escalation decisions of cleaned ``texts``,
        with the multilingual head's readings where they are taken (one embedding a text serves
        them all):

        - in the head's languages, its intents, severity and escalation where it has those heads;
        - elsewhere, its intents averaged with the main model's where the main model is below
          ``second_opinion_below`` (English messages it hesitates on: on the validation split's
          untemplated rows 0.851 -> 0.872 at 0.7, with 14% of them read twice);
        - where the main model reads a message as possibly severe (severity from
          :data:`SEVERITY_SECOND_OPINION_FROM`, or negative): with ``escalation_head``, its decision
          whether a person should take over; with ``english_severity_head``, its severity mixed in
          (on our first frustration set, severity MAE 0.43 -> 0.34, but some plain requests read
          4: see ``classifiers/README.md``). Calm questions and thanks keep the main model's
          reading and speed."""
        probs = softmax(logits, self.temperature)
        undecided = np.full(len(texts), -1, dtype=np.int8)
        head = self.multilingual
        if head is None or not len(texts):
            return _Reading(probs, severity, undecided)
        native = language in head.languages
        if native:
            unsure = severe = np.ones(len(texts), dtype=bool)
            mix_severity = decide = True
        else:
            unsure = probs.max(axis=1) < self.second_opinion_below
            severe = (severity >= SEVERITY_SECOND_OPINION_FROM) | (sentiment.argmax(axis=1) == 0)
            mix_severity, decide = self.english_severity_head, self.escalation_head
            severe &= mix_severity or decide
        read = np.flatnonzero(unsure | severe)
        if not len(read):
            return _Reading(probs, severity, undecided)
        vectors = embed([texts[int(i)] for i in read])
        second = head.proba(vectors)
        if native:  # every text was read
            probs = second
        else:
            hesitant = unsure[read]
            probs[read[hesitant]] = (probs[read[hesitant]] + second[hesitant]) / 2
        rows = read[severe[read]]
        vectors = vectors[severe[read]]
        if head.escalation is not None and decide:
            senti = softmax(sentiment[rows])
            score = (senti[:, 2] - senti[:, 0]).astype(np.float32)
            features = EscalationHead.features(vectors, severity[rows], score)
            undecided[rows] = head.escalation.escalate(features)
        mixed = severity.copy()
        if head.severity is not None and mix_severity:
            mixed[rows] = head.severity.severity(vectors, severity[rows])
        return _Reading(probs, mixed, undecided)

    @overload
    def predict(  # type: ignore[overload-overlap]
        self, texts: str, *, language: str | None = None
    ) -> Prediction: ...
    @overload
    def predict(self, texts: Sequence[str], *, language: str | None = None) -> list[Prediction]: ...
    def predict(
        self, texts: str | Sequence[str], *, language: str | None = None
    ) -> Prediction | list[Prediction]:
        """What the model reads in ``texts``. ``language`` is the customer's (``"en"``, ``"es"``,
        ``"fr"``): Spanish and French intents and severity are read by the multilingual head where
        the model has one; sentiment and entities always come from the main model."""
        if isinstance(texts, str):
            return self._predict([texts], language)[0]
        return self._predict(list(texts), language)

    def __call__(self, texts: str) -> Prediction:
        return self._predict([texts], None)[0]

    def _predict(self, texts: list[str], language: str | None) -> list[Prediction]:
        cleaned = [clean_text(t) for t in texts]
        live = [i for i, t in enumerate(cleaned) if t]
        logits, severity, sentiment = self.raw_outputs([cleaned[i] for i in live])
        reading = self._second_reading(
            [cleaned[i] for i in live], logits, severity, sentiment, language
        )
        probs, severity = reading.probs, reading.severity
        senti_probs = softmax(sentiment)
        out: list[Prediction] = [self._blank(t) for t in texts]
        for row, i in enumerate(live):
            p = probs[row]
            ranked = np.argsort(-p)[: self.top_k]
            top = int(ranked[0])
            confidence = float(p[top])
            oos = top == self.oos_index or confidence < self.threshold
            intent = self.out_of_scope_intent if oos else self.intents[top]
            s = senti_probs[row]
            out[i] = Prediction(
                text=texts[i],
                intent=intent,
                category=self.categories[intent],
                confidence=confidence,
                top_k=tuple((self.intents[int(j)], float(p[j])) for j in ranked),
                out_of_scope=oos,
                severity=float(np.clip(severity[row], 1.0, 5.0)),
                sentiment=SENTIMENTS[int(np.argmax(s))],
                sentiment_score=float(s[2] - s[0]),
                entities=tuple(self.extractor.extract(texts[i])),
                escalate=None if reading.escalate[row] < 0 else bool(reading.escalate[row]),
            )
        return out

    def _blank(self, text: str) -> Prediction:
        """A blank message (nothing left after clean-up) is out of scope with no confidence."""
        return Prediction(
            text=text,
            intent=self.out_of_scope_intent,
            category=self.categories[self.out_of_scope_intent],
            confidence=0.0,
            top_k=(),
            out_of_scope=True,
            severity=1.0,
            sentiment="neutral",
            sentiment_score=0.0,
        )
