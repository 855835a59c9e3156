"""Text clean-up before the model, the de-duplication key, and PII masking before anything is logged.

Preprocessing follows the issue's description (the seed paper itself is not available here): drop blank
messages, strip URLs, normalise whitespace. Case is left alone: the MiniLM tokenizer is uncased and
lower-cases by itself, and the entity extractor needs the original case for names.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["clean_text", "dedup_key", "mask_pii"]

_URL: Final = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_SPACE: Final = re.compile(r"\s+")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


def clean_text(text: str) -> str:
    """URLs removed, control characters dropped, whitespace collapsed; ``""`` for a blank message."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    text = _URL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def dedup_key(text: str) -> str:
    """Key under which two utterances count as the same (lower case, whitespace normalised), the
    normalisation the datasets README measured its overlaps with."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip().lower()


# Order matters: e-mails before anything that could eat their digits; cards (13-19 digits, Luhn-checked)
# before phone numbers. Order ids (#W1234567) are not personal data and stay readable in logs.
_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CARD: Final = re.compile(r"(?<![\w#])(?:\d[ -]?){12,18}\d(?!\w)")
_IBAN: Final = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_SSN: Final = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_PHONE: Final = re.compile(r"(?<![\w#$€£.,])\+?\(?\d[\d ().-]{5,}\d(?![\w%])")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_REFERENCE_BEFORE: Final = re.compile(
    r"(?:order|purchase|invoice|tracking|ticket|item|reference|ref|number|no\.?|n°|nº)\s*[:#]?\s*$",
    re.IGNORECASE,
)
_IP: Final = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_STREET: Final = re.compile(
    r"\b\d{1,6}\s+(?:[A-Z][a-z]+\s){1,3}"
    r"(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Lane|Ln|Dr|Drive|Way|Ct|Court|Pl|Place)\b\.?"
)
_ZIP_CONTEXT: Final = re.compile(
    r"\b(zip(?:\s*code)?|postal\s*code|postcode)(\s*(?:is|:|=)?\s*)(\d{5}(?:-\d{4})?)\b",
    re.IGNORECASE,
)
_NAME_INTRO: Final = re.compile(
    r"\b((?i:my name is|my name's|name is|this is|i am|i'm|signed|regards,?|thanks,?|me llamo|"
    r"je m'appelle|je suis)\s+)([A-Z][a-zA-Z'\-]+(?:\s+[A-Z][a-zA-Z'\-]+){0,2})"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


def mask_pii(text: str) -> str:
    """The message with e-mails, card numbers, IBANs, SSNs, phone numbers, IPs, street addresses, zip
    codes given as such and self-introduced names replaced by ``[EMAIL]``, ``[CARD]``, ... placeholders.

    Meant for logs: it errs towards masking. Order ids and amounts are kept (they are needed to debug
    and are not personal data on their own).
    """
    text = _EMAIL.sub("[EMAIL]", text)
    text = _CARD.sub(_mask_card, text)
    text = _IBAN.sub("[IBAN]", text)
    text = _SSN.sub("[SSN]", text)
    text = _IP.sub("[IP]", text)
    text = _PHONE.sub(_mask_phone, text)
    text = _STREET.sub("[ADDRESS]", text)
    text = _ZIP_CONTEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}[ZIP]", text)
    return _NAME_INTRO.sub(_mask_name, text)


def _mask_phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = re.sub(r"\D", "", found)
    # Short digit runs are sizes or amounts, not phone numbers; dates look alike but stay.
    if not 7 <= len(digits) <= 15 or _DATE.fullmatch(found.strip()):
        return found
    if _REFERENCE_BEFORE.search(match.string[max(0, match.start() - 24) : match.start()]):
        return found  # an order, invoice or tracking number
    return "[PHONE]"


_NOT_NAMES: Final = frozenset(
    {
        "Hi", "Hello", "Sorry", "Still", "Not", "Very", "So", "Really", "Just", "Looking", "Trying",
        "Waiting", "Writing", "Having", "Going", "Interested", "Unable", "Happy", "Angry", "The", "A",
        "An", "I", "It", "My", "In", "On", "At", "For", "Please", "Thank", "Thanks", "Done", "Here",
    }
)  # fmt: skip


def _mask_name(match: re.Match[str]) -> str:
    words = match.group(2).split()
    if words[0] in _NOT_NAMES:
        return match.group(0)
    return f"{match.group(1)}[NAME]"
