"""The customer's language (English, Spanish or French), detected offline with lingua.

Here beside the classifier, which reads Spanish and French with its multilingual head: the agent
detects each message's language with it, and the held-out evaluation does the same."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from lingua import LanguageDetector

Language = Literal["en", "es", "fr"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "es", "fr")

__all__ = ["LANGUAGES", "Language", "detect_language"]

_WORD: Final = re.compile(r"[^\W\d_]{2,}")
_lock = threading.Lock()
_detector: LanguageDetector | None = None


def _get_detector() -> LanguageDetector:
    global _detector
    with _lock:
        if _detector is None:
            from lingua import Language as Lingua
            from lingua import LanguageDetectorBuilder

            # Three candidate languages only: more accurate on short messages, and a small model.
            _detector = LanguageDetectorBuilder.from_languages(
                Lingua.ENGLISH, Lingua.SPANISH, Lingua.FRENCH
            ).build()
        return _detector


_ONE_WORD: Final[dict[str, Language]] = {
    "hola": "es", "gracias": "es", "buenas": "es", "adios": "es", "adiós": "es",
    "bonjour": "fr", "salut": "fr", "merci": "fr", "coucou": "fr", "bonsoir": "fr",
}  # fmt: skip


def detect_language(
    text: str, previous: Language = "en", *, min_confidence: float = 0.6
) -> Language:
    """The language of ``text``; ``previous`` when the message is too short to tell ("ok", "#W1234567")."""
    words = _WORD.findall(text)
    if len(words) < 2:
        # A greeting or a thanks alone says the language it is in.
        return _ONE_WORD.get(text.strip(" !.?¡¿").lower(), previous)
    values = _get_detector().compute_language_confidence_values(text)
    if not values or values[0].value < min_confidence:
        return previous
    code = values[0].language.iso_code_639_1.name.lower()
    return code if code in LANGUAGES else previous
