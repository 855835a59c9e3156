"""Entities in a customer message: order ids, e-mails, names, zip codes, amounts, and product names.

Rules where rules are exact (order ids ``#W1234567``, e-mails, amounts, zip codes); names by the ways
people introduce themselves; product names by fuzzy matching against the shop's catalog (typos and
partial names still match, e.g. "mechanical keybord").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from rapidfuzz import fuzz

__all__ = ["ENTITY_TYPES", "Entity", "EntityExtractor", "EntityType", "extract_entities"]

EntityType = Literal["order_id", "email", "name", "zip_code", "product", "amount"]
ENTITY_TYPES: Final[tuple[EntityType, ...]] = (
    "order_id",
    "email",
    "name",
    "zip_code",
    "product",
    "amount",
)


@dataclass(frozen=True)
class Entity:
    """One entity: its normalised ``value`` and where it was found (``text[start:end]``)."""

    type: EntityType
    value: str
    start: int
    end: int
    score: float = 1.0
    """1.0 for exact rules; the fuzzy-match similarity (0-1) for products."""


_ORDER_ID: Final = re.compile(r"(?<![\w])#?\s?([Ww]\d{7})(?!\d)")
_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CURRENCY_WORDS: Final = {
    "$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
}
_NUMBER: Final = r"(?:\d{1,3}(?:[,.\s]\d{3})+|\d+)(?:[.,]\d{1,2})?(?!\d)"
_AMOUNT: Final = re.compile(
    rf"(?P<pre>[$€£])\s?(?P<n1>{_NUMBER})"
    rf"|(?P<n2>{_NUMBER})\s?(?P<post>[$€£]|(?i:usd|eur|gbp|dollars?|euros?|pounds?|bucks)\b)"
)
_ZIP: Final = re.compile(
    r"(?<![\w#$€£.,-])(\d{5})(?:-(\d{4}))?(?![\w%.,]\d|\s?(?:[$€£]|%))"
    r"(?!\s*(?i:units?|items?|pieces?|pcs|times|points|km|miles|people|orders?)\b)"
)
_ZIP_CUE: Final = re.compile(r"\b(?:zip|postal|postcode|zipcode|cp|code postal)\b", re.IGNORECASE)
_NAME: Final = re.compile(
    r"\b(?i:my name is|my name's|name is|name:|this is|i am|i'm|me llamo|je m'appelle|"
    r"je suis|soy)\s+([A-Z][a-zA-Z'\-]+(?:\s+[A-Z][a-zA-Z'\-]+){0,2})"
)
_NAME_ZIP: Final = re.compile(
    r"\b([A-Z][a-z'\-]+\s+[A-Z][a-z'\-]+)\s*,?\s*(?:\(|in\s|at\s|zip\s)?\s*\d{5}\b"
)
_NOT_NAME: Final = frozenset(
    {
        "Hi", "Hello", "Sorry", "Still", "Not", "Very", "So", "Really", "Just", "Looking", "Trying",
        "Waiting", "Writing", "Having", "Going", "Interested", "Unable", "Happy", "Angry", "The",
        "A", "An", "I", "It", "My", "In", "On", "At", "For", "Please", "Thank", "Thanks", "Here",
        "Order", "Zip", "Item", "Can", "Could", "Would", "Where", "When", "What", "Why", "How",
    }
)  # fmt: skip
_WORD: Final = re.compile(r"[\w'-]+")


def _amount_value(number: str) -> str:
    """``"1,299.99"`` -> ``"1299.99"``; ``"12,50"`` (decimal comma) -> ``"12.50"``."""
    n = number.replace(" ", "")
    if re.fullmatch(r"\d+,\d{1,2}", n):
        return n.replace(",", ".")
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d{1,2}", n):
        return n.replace(".", "").replace(",", ".")
    return n.replace(",", "")


class EntityExtractor:
    """Extracts entities; ``catalog`` is the shop's product names (fuzzy-matched)."""

    def __init__(self, catalog: Iterable[str] = (), *, product_threshold: float = 0.85) -> None:
        names = {c.strip() for c in catalog if len(c.strip()) >= 3}
        self.catalog: tuple[str, ...] = tuple(sorted(names, key=lambda s: (-len(s), s)))
        self.product_threshold = product_threshold

    def __call__(self, text: str) -> list[Entity]:
        return self.extract(text)

    def extract(self, text: str) -> list[Entity]:
        """Every entity found, in order of position; overlapping finds keep the earlier rule's."""
        found: list[Entity] = []
        taken: list[tuple[int, int]] = []

        def add(entity: Entity) -> None:
            if any(entity.start < e and s < entity.end for s, e in taken):
                return
            taken.append((entity.start, entity.end))
            found.append(entity)

        for m in _EMAIL.finditer(text):
            add(Entity("email", m.group(0).lower(), m.start(), m.end()))
        for m in _ORDER_ID.finditer(text):
            add(Entity("order_id", "#" + m.group(1).upper(), m.start(), m.end()))
        for m in _AMOUNT.finditer(text):
            number = m.group("n1") or m.group("n2")
            unit = (m.group("pre") or m.group("post") or "").lower()
            currency = _CURRENCY_WORDS.get(unit, unit.upper())
            add(Entity("amount", f"{_amount_value(number)} {currency}", m.start(), m.end()))
        has_zip_cue = bool(_ZIP_CUE.search(text))
        for m in _ZIP.finditer(text):
            value = m.group(1) + (f"-{m.group(2)}" if m.group(2) else "")
            add(Entity("zip_code", value, m.start(), m.end(), 1.0 if has_zip_cue else 0.8))
        for pattern in (_NAME, _NAME_ZIP):
            for m in pattern.finditer(text):
                words = m.group(1).split()
                if words[0] in _NOT_NAME:
                    continue
                add(Entity("name", " ".join(words), m.start(1), m.end(1)))
        for entity in self._products(text):
            add(entity)
        return sorted(found, key=lambda e: e.start)

    def _products(self, text: str) -> list[Entity]:
        if not self.catalog:
            return []
        spans = [(m.start(), m.end(), m.group(0).lower()) for m in _WORD.finditer(text)]
        words = {w for _, _, w in spans if len(w) >= 3}
        matches: list[Entity] = []
        for name in self.catalog:
            target = name.lower()
            name_words = [w for w in _WORD.findall(target) if len(w) >= 3] or [target]
            # Cheap pre-filter: some word of the name (or a close spelling of one) is in the text.
            if not any(
                w in words or any(fuzz.ratio(w, x) >= 80 for x in words) for w in name_words
            ):
                continue
            best = self._best_window(text, spans, target)
            if best is not None:
                score, start, end = best
                matches.append(Entity("product", name, start, end, round(score, 3)))
        matches.sort(key=lambda e: (-e.score, -(e.end - e.start)))
        return matches

    def _best_window(
        self, text: str, spans: list[tuple[int, int, str]], target: str
    ) -> tuple[float, int, int] | None:
        """The run of words most similar to ``target``; a lone mention of the name's last word
        ("the earbuds" for "Wireless Earbuds") counts just above the threshold."""
        n = len(target.split())
        head = target.split()[-1]
        best: tuple[float, int, int] | None = None
        for i in range(len(spans)):
            for length in range(max(1, n - 1), n + 2):
                if i + length > len(spans):
                    break
                start, end = spans[i][0], spans[i + length - 1][1]
                score = fuzz.ratio(target, text[start:end].lower()) / 100.0
                lone_head = length == 1 and n > 1 and len(head) >= 4
                if lone_head and fuzz.ratio(head, spans[i][2]) >= 90:
                    score = max(score, self.product_threshold + 0.01)
                if score >= self.product_threshold and (best is None or score > best[0]):
                    best = (score, start, end)
        return best


def extract_entities(text: str, catalog: Sequence[str] = ()) -> list[Entity]:
    """Shortcut for ``EntityExtractor(catalog).extract(text)``."""
    return EntityExtractor(catalog).extract(text)
