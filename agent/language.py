"""The customer's language: detected by ``classifiers.language`` (the classifier reads it too)."""

from classifiers import LANGUAGES, Language, detect_language

__all__ = ["LANGUAGES", "Language", "detect_language"]
