"""Understanding a message: a fine-tuned local MiniLM for intent (calibrated confidence, top-k,
out-of-scope), severity (1-5) and sentiment, plus an entity extractor; its datasets, training pipeline,
ONNX int8 export and benchmark.

    clf = Classifier.from_pretrained()          # what `concierge train` wrote under var/models
    p = clf.predict("where's my order #W1234567? it's 2 weeks late!!")
    p.intent, p.confidence, p.top_k, p.out_of_scope, p.severity, p.sentiment, p.entities

Only ``inference`` (onnxruntime, tokenizers, numpy) is needed to serve; torch is imported by training.
"""

from classifiers.calibration import (
    OOSDecision,
    choose_oos_threshold,
    expected_calibration_error,
    fit_temperature,
)
from classifiers.corpus import Corpus, CorpusConfig, build_corpus
from classifiers.datasets import (
    Example,
    Splits,
    dedup,
    load_banking77,
    load_bitext,
    load_clinc,
    load_labeled_file,
    load_tickets,
    remove_overlap,
    split,
)
from classifiers.entities import ENTITY_TYPES, Entity, EntityExtractor, EntityType, extract_entities
from classifiers.errors import (
    BaseModelError,
    ClassifierError,
    DatasetFormatError,
    DatasetNotFoundError,
    ModelNotFoundError,
    TaxonomyError,
)
from classifiers.inference import DEFAULT_MODEL_NAME, Classifier, Prediction
from classifiers.labels import (
    PRIORITY_TO_SEVERITY,
    SENTIMENTS,
    Sentiment,
    weak_sentiment,
    weak_severity,
)
from classifiers.language import LANGUAGES, Language, detect_language
from classifiers.multilingual import MultilingualHead
from classifiers.preprocessing import clean_text, mask_cards, mask_pii
from classifiers.taxonomy import DEFAULT_TAXONOMY, Taxonomy, load_taxonomy
from classifiers.training_args import Mode, TrainingArguments

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_TAXONOMY",
    "ENTITY_TYPES",
    "LANGUAGES",
    "PRIORITY_TO_SEVERITY",
    "SENTIMENTS",
    "BaseModelError",
    "Classifier",
    "ClassifierError",
    "Corpus",
    "CorpusConfig",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "Entity",
    "EntityExtractor",
    "EntityType",
    "Example",
    "Language",
    "Mode",
    "ModelNotFoundError",
    "MultilingualHead",
    "OOSDecision",
    "Prediction",
    "Sentiment",
    "Splits",
    "Taxonomy",
    "TaxonomyError",
    "TrainingArguments",
    "build_corpus",
    "choose_oos_threshold",
    "clean_text",
    "dedup",
    "detect_language",
    "expected_calibration_error",
    "extract_entities",
    "fit_temperature",
    "load_banking77",
    "load_bitext",
    "load_clinc",
    "load_labeled_file",
    "load_taxonomy",
    "load_tickets",
    "mask_cards",
    "mask_pii",
    "remove_overlap",
    "split",
    "train_classifier",
    "weak_sentiment",
    "weak_severity",
]


def __getattr__(name: str) -> object:
    # Training pulls in torch (~300 MB); a serving process that only classifies never loads it.
    if name == "train_classifier":
        from classifiers.pipeline import train_classifier

        return train_classifier
    raise AttributeError(f"module 'classifiers' has no attribute {name!r}")
