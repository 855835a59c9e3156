"""The benchmark's baselines: TF-IDF + logistic regression, a BiLSTM (the recurrent baseline), and frozen
MiniLM sentence embeddings + logistic regression. Each predicts intent probabilities and, where trained
with severity rows, a 1-5 severity; each saves to and loads from a folder (the latency benchmark loads
it in a fresh process)."""

from __future__ import annotations

import json
import math
import pickle
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from classifiers.tokenization import base_model_path, load_tokenizer

__all__ = [
    "BASELINES",
    "Baseline",
    "BiLSTMBaseline",
    "FrozenEncoderBaseline",
    "TfidfBaseline",
    "load_baseline",
]


class Baseline:
    """Common shape: ``fit`` on intent rows (+ optional severity rows), then predict."""

    kind: ClassVar[str] = ""
    labels: list[str]

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str | None],
        severity: Sequence[float | None] | None = None,
    ) -> None:
        """Rows without an intent (or without a severity) are left out of that head's fit."""
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        raise NotImplementedError

    def predict_severity(self, texts: Sequence[str]) -> NDArray[np.float64] | None:
        raise NotImplementedError

    def save(self, folder: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, folder: Path) -> Baseline:
        raise NotImplementedError


# Pickle is used only for artefacts this benchmark wrote itself into its own cache folder.
def _dump(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        pickle.dump(obj, fh)


def _load(path: Path) -> Any:
    with path.open("rb") as fh:
        return pickle.load(fh)  # noqa: S301 - our own cache file


class TfidfBaseline(Baseline):
    """Word uni- and bigram TF-IDF (sublinear tf) + multinomial logistic regression; ridge for severity."""

    kind = "tfidf_lr"

    def __init__(self, c: float = 10.0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        self.c = c
        self.classifier: Any = None
        self.regressor: Any = None
        self.severity_classifier: Any = None
        self.labels = []

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str | None],
        severity: Sequence[float | None] | None = None,
    ) -> None:
        from sklearn.linear_model import LogisticRegression, Ridge

        x = self.vectorizer.fit_transform(texts)
        rows, y = _labeled(labels)
        self.classifier = LogisticRegression(C=self.c, max_iter=3000)
        self.classifier.fit(x[rows], y)
        self.labels = [str(v) for v in self.classifier.classes_]
        rows, s = _labeled(severity or [])
        if rows:
            self.regressor = Ridge(alpha=1.0).fit(x[rows], np.asarray(s))
            # Reference for Table 4: severity as classes, predicting the median of the class
            # distribution (what minimises the absolute error of discrete labels).
            levels = np.rint(np.asarray(s, dtype=np.float64)).astype(int)
            self.severity_classifier = LogisticRegression(C=1.0, max_iter=3000)
            self.severity_classifier.fit(x[rows], levels)

    def predict_severity_median(self, texts: Sequence[str]) -> NDArray[np.float64] | None:
        """Median of the predicted severity-class distribution (``None`` without severity rows)."""
        if getattr(self, "severity_classifier", None) is None:
            return None
        probs = self.severity_classifier.predict_proba(self.vectorizer.transform(texts))
        classes = np.asarray(self.severity_classifier.classes_, dtype=np.float64)
        median = np.argmax(np.cumsum(probs, axis=1) >= 0.5, axis=1)
        return np.asarray(classes[median], dtype=np.float64)

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        return np.asarray(self.classifier.predict_proba(self.vectorizer.transform(texts)))

    def predict_severity(self, texts: Sequence[str]) -> NDArray[np.float64] | None:
        if self.regressor is None:
            return None
        pred = np.asarray(
            self.regressor.predict(self.vectorizer.transform(texts)), dtype=np.float64
        )
        return np.clip(pred, 1.0, 5.0)

    def save(self, folder: Path) -> None:
        _dump(self, folder / "tfidf_lr.pkl")

    @classmethod
    def load(cls, folder: Path) -> Baseline:
        model = _load(folder / "tfidf_lr.pkl")
        assert isinstance(model, TfidfBaseline)
        return model


def _labeled(values: Sequence[Any]) -> tuple[list[int], list[Any]]:
    """Positions and values of the rows that carry a label."""
    rows = [i for i, v in enumerate(values) if v is not None]
    return rows, [values[i] for i in rows]


class _Encoder:
    """Frozen all-MiniLM-L6-v2 sentence embeddings (mean pooling, L2-normalised), as the
    sentence-transformers package computes them."""

    def __init__(self) -> None:
        from transformers import BertModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity(40)
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        path = base_model_path()
        self.model = BertModel.from_pretrained(str(path), add_pooling_layer=False)
        self.model.train(False)
        self.tokenizer = load_tokenizer(path, 128)

    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        import torch

        from classifiers.modeling import mean_pool

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                enc = self.tokenizer.encode_batch([texts[i] for i in idx])
                ids = torch.tensor([e.ids for e in enc])
                mask = torch.tensor([e.attention_mask for e in enc])
                hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
                pooled = torch.nn.functional.normalize(mean_pool(hidden, mask), dim=-1)
                out[idx] = pooled.numpy()
        return out


class FrozenEncoderBaseline(Baseline):
    """Frozen MiniLM sentence embeddings + logistic regression (ridge for severity)."""

    kind = "frozen_minilm_lr"

    def __init__(self, c: float = 10.0) -> None:
        self.c = c
        self.classifier: Any = None
        self.regressor: Any = None
        self.labels = []
        self.cache: dict[str, NDArray[np.float32]] | None = {}
        """Embeddings by text while fitting and evaluating (rows are scored twice); ``None`` after
        ``load`` so that timed predictions do the real work."""
        self._encoder: _Encoder | None = None

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if self._encoder is None:
            self._encoder = _Encoder()
        if self.cache is None:
            return self._encoder(texts)
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for text, vector in zip(todo, self._encoder(todo), strict=True):
                self.cache[text] = vector
        return np.stack([self.cache[t] for t in texts])

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str | None],
        severity: Sequence[float | None] | None = None,
    ) -> None:
        from sklearn.linear_model import LogisticRegression, Ridge

        x = self.embed(texts)
        rows, y = _labeled(labels)
        self.classifier = LogisticRegression(C=self.c, max_iter=3000)
        self.classifier.fit(x[rows], y)
        self.labels = [str(v) for v in self.classifier.classes_]
        rows, s = _labeled(severity or [])
        if rows:
            self.regressor = Ridge(alpha=1.0).fit(x[rows], np.asarray(s))

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        return np.asarray(self.classifier.predict_proba(self.embed(texts)))

    def predict_severity(self, texts: Sequence[str]) -> NDArray[np.float64] | None:
        if self.regressor is None:
            return None
        pred = np.asarray(self.regressor.predict(self.embed(texts)), dtype=np.float64)
        return np.clip(pred, 1.0, 5.0)

    def save(self, folder: Path) -> None:
        cache, encoder = self.cache, self._encoder
        self.cache, self._encoder = {}, None
        try:
            _dump(self, folder / "frozen_lr.pkl")
        finally:
            self.cache, self._encoder = cache, encoder

    @classmethod
    def load(cls, folder: Path) -> Baseline:
        model = _load(folder / "frozen_lr.pkl")
        assert isinstance(model, FrozenEncoderBaseline)
        model.cache = None
        return model


class BiLSTMBaseline(Baseline):
    """Word-piece embeddings (128-d, trained from scratch) -> 1-layer BiLSTM (128 per direction) ->
    max + mean pooling -> intent and severity heads. Same tokenizer as MiniLM, no pre-trained
    weights: the paper's recurrent baseline without GloVe (none is installed here)."""

    kind = "bilstm"

    def __init__(
        self,
        epochs: int = 8,
        dim: int = 128,
        hidden: int = 128,
        lr: float = 2e-3,
        batch_size: int = 64,
        max_length: int = 64,
        seed: int = 13,
    ) -> None:
        self.params: dict[str, Any] = {
            "epochs": epochs,
            "dim": dim,
            "hidden": hidden,
            "lr": lr,
            "batch_size": batch_size,
            "max_length": max_length,
            "seed": seed,
        }
        self.labels = []
        self.net: Any = None
        self.has_severity = False
        self.tokenizer = load_tokenizer(base_model_path(), max_length)
        self._plain: Any = None

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        if self._plain is None:
            from classifiers.trainer import _unpadded

            self._plain = _unpadded(self.tokenizer)
        return [e.ids for e in self._plain.encode_batch(list(texts))]

    def _build(self, num_labels: int) -> Any:
        import torch
        from torch import nn

        p = self.params

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.embedding = nn.Embedding(30522, p["dim"], padding_idx=0)
                self.lstm = nn.LSTM(p["dim"], p["hidden"], batch_first=True, bidirectional=True)
                self.dropout = nn.Dropout(0.3)
                self.intent = nn.Linear(4 * p["hidden"], num_labels)
                self.severity = nn.Linear(4 * p["hidden"], 1)

            def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[Any, Any]:
                lengths = mask.sum(1).clamp(min=1).cpu()
                packed = nn.utils.rnn.pack_padded_sequence(
                    self.embedding(ids), lengths, batch_first=True, enforce_sorted=False
                )
                out, _ = self.lstm(packed)
                out, _ = nn.utils.rnn.pad_packed_sequence(
                    out, batch_first=True, total_length=ids.shape[1]
                )
                m = mask.unsqueeze(-1).to(out.dtype)
                mean = (out * m).sum(1) / m.sum(1).clamp(min=1)
                mx = out.masked_fill(m == 0, -1e4).max(1).values
                pooled = self.dropout(torch.cat([mean, mx], dim=-1))
                severity = 1 + 4 * torch.sigmoid(self.severity(pooled).squeeze(-1))
                return self.intent(pooled), severity

        return Net()

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str | None],
        severity: Sequence[float | None] | None = None,
    ) -> None:
        import torch
        import torch.nn.functional as F

        from classifiers.trainer import _collate

        p = self.params
        torch.manual_seed(p["seed"])
        rng = random.Random(p["seed"])
        self.labels = sorted({label for label in labels if label is not None})
        index = {name: i for i, name in enumerate(self.labels)}
        ids = self._ids(texts)
        y = [index[label] if label is not None else -100 for label in labels]
        sev = list(severity) if severity is not None else [None] * len(texts)
        s = [float(v) if v is not None else math.nan for v in sev]
        self.has_severity = any(v is not None for v in sev)
        self.net = self._build(len(self.labels))
        optimizer = torch.optim.Adam(self.net.parameters(), lr=p["lr"])
        y_t = torch.tensor(y)
        s_t = torch.tensor(s, dtype=torch.float32)
        order = list(range(len(ids)))
        self.net.train()
        for _ in range(p["epochs"]):
            rng.shuffle(order)
            chunks = [order[i : i + p["batch_size"] * 20] for i in range(0, len(order), 1280)]
            batches = []
            for chunk in chunks:
                chunk = sorted(chunk, key=lambda i: len(ids[i]))
                batches += [
                    chunk[i : i + p["batch_size"]] for i in range(0, len(chunk), p["batch_size"])
                ]
            rng.shuffle(batches)
            for batch in batches:
                x, mask = _collate([ids[i] for i in batch])
                logits, sev = self.net(x, mask)
                idx = torch.tensor(batch)
                yb, sb = y_t[idx], s_t[idx]
                loss = logits.new_zeros(())
                if bool((yb != -100).any()):
                    loss = loss + F.cross_entropy(logits[yb != -100], yb[yb != -100])
                has = ~torch.isnan(sb)
                if bool(has.any()):
                    loss = loss + F.smooth_l1_loss(sev[has], sb[has], beta=0.5)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                optimizer.step()
        self.net.eval()

    def _forward(self, texts: Sequence[str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        import torch

        from classifiers.calibration import softmax
        from classifiers.trainer import _collate

        ids = self._ids(texts)
        probs = np.zeros((len(texts), len(self.labels)))
        sev = np.zeros(len(texts))
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with torch.inference_mode():
            for start in range(0, len(order), 128):
                idx = order[start : start + 128]
                x, mask = _collate([ids[i] for i in idx])
                logits, s = self.net(x, mask)
                probs[idx] = softmax(logits.numpy())
                sev[idx] = s.numpy()
        return probs, sev

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        return self._forward(texts)[0]

    def predict_severity(self, texts: Sequence[str]) -> NDArray[np.float64] | None:
        return self._forward(texts)[1] if self.has_severity else None

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        save_file(self.net.state_dict(), str(folder / "bilstm.safetensors"))
        (folder / "bilstm.json").write_text(
            json.dumps(
                {"params": self.params, "labels": self.labels, "severity": self.has_severity}
            )
        )

    @classmethod
    def load(cls, folder: Path) -> Baseline:
        from safetensors.torch import load_file

        meta = json.loads((folder / "bilstm.json").read_text())
        model = cls(**meta["params"])
        model.labels = meta["labels"]
        model.has_severity = meta["severity"]
        model.net = model._build(len(model.labels))
        model.net.load_state_dict(load_file(str(folder / "bilstm.safetensors")))
        model.net.eval()
        return model


BASELINES: dict[str, type[Baseline]] = {
    TfidfBaseline.kind: TfidfBaseline,
    BiLSTMBaseline.kind: BiLSTMBaseline,
    FrozenEncoderBaseline.kind: FrozenEncoderBaseline,
}


def load_baseline(kind: str, folder: Path) -> Baseline:
    return BASELINES[kind].load(folder)


def timed_fit(model: Baseline, *args: Any, **kwargs: Any) -> float:
    start = time.perf_counter()
    model.fit(*args, **kwargs)
    return time.perf_counter() - start
