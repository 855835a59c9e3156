"""Checks on what the agent says: every order fact, amount and policy figure in a reply must appear in
this turn's evidence (tool results, passages, the customer's own words); logs never carry PII."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from classifiers import mask_pii

_ORDER_ID: Final = re.compile(r"#?W\d{7}\b", re.IGNORECASE)
_MONEY: Final = re.compile(
    r"(?:\$\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?(?:\$|usd|dollars?))", re.I
)
_DATE: Final = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_LONG_ID: Final = re.compile(r"\b\d{9,}\b")
_FIGURE: Final = re.compile(
    r"\b(\d+(?:\.\d+)?)\s?(%|percent|days?|business days?|hours?|weeks?|months?|years?|"
    r"d[ií]as|horas|semanas|meses|jours|heures|semaines|mois|ans)\b",
    re.IGNORECASE,
)
_STATUS: Final = re.compile(
    r"\b(pending|processed|delivered|cancell?ed|shipped|return requested|exchange requested|"
    r"completed)\b",
    re.IGNORECASE,
)
_NUMBER: Final = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _number(text: str) -> str:
    value = float(text.replace(",", ""))
    return f"{value:.2f}"


@dataclass(frozen=True)
class Grounding:
    ok: bool
    unsupported: tuple[str, ...]
    """The claims found in the reply but not in the evidence."""


def order_ids(text: str) -> set[str]:
    """The order ids in ``text``, normalised (``W1234567``)."""
    return {m.upper().lstrip("#") for m in _ORDER_ID.findall(text)}


def claims(reply: str) -> set[str]:
    """The checkable claims in a reply: order ids, amounts, dates, long ids, policy figures, statuses."""
    found = order_ids(reply)
    found |= {f"${_number(a or b)}" for a, b in _MONEY.findall(reply)}
    found |= set(_DATE.findall(reply))
    found |= set(_LONG_ID.findall(reply))
    found |= {f"{float(n):g} {u.lower().rstrip('s')[:3]}" for n, u in _FIGURE.findall(reply)}
    found |= {
        f"status:{s.lower().replace('canceled', 'cancelled')}" for s in _STATUS.findall(reply)
    }
    return found


def support(evidence: Iterable[str]) -> set[str]:
    """Everything the evidence can vouch for, in the same normal forms as :func:`claims`."""
    text = "\n".join(evidence)
    found: set[str] = {m.upper().lstrip("#") for m in _ORDER_ID.findall(text)}
    found |= {f"${_number(n)}" for n in _NUMBER.findall(text)}
    found |= set(_DATE.findall(text))
    found |= set(_LONG_ID.findall(text))
    found |= {f"{float(n):g} {u.lower().rstrip('s')[:3]}" for n, u in _FIGURE.findall(text)}
    # Written-out numbers in policies ("thirty days") are vouched for by the passage's own wording.
    found |= {f"status:{s.lower().replace('canceled', 'cancelled')}" for s in _STATUS.findall(text)}
    return found


def check_grounding(reply: str, evidence: Iterable[str]) -> Grounding:
    """Whether every claim in ``reply`` is supported by ``evidence``."""
    unsupported = sorted(claims(reply) - support(evidence))
    return Grounding(not unsupported, tuple(unsupported))


class PIIFilter(logging.Filter):
    """Masks e-mails, cards, phones, addresses and names in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_pii(record.getMessage())
        record.args = None
        return True


PAYMENT_METHOD_ID: Final = re.compile(r"\b(?:credit_card|gift_card|paypal)_\d+\b")
"""A payment method's id as the shop stores it; a customer knows it as "your Visa ending 7183"."""

# What a reply must never show a customer: the shop's internal ids and the machinery around them.
_INTERNAL: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("payment method id", PAYMENT_METHOD_ID),
    ("user id", re.compile(r"\b[a-z]+_[a-z]+_\d{4}\b")),
    ("document reference", re.compile(r"\.md#|\[[\w./-]+\.md\b")),
    ("field dump", re.compile(r"\b[a-z]+_[a-z_]+: [^;\n]+;")),
)


def internal_text(reply: str) -> list[str]:
    """What in ``reply`` is machinery rather than words for a customer ("payment method id:
    paypal_5364164"); empty when it reads as a person would write it."""
    return [f"{what}: {m.group(0)}" for what, rx in _INTERNAL for m in rx.finditer(reply)]


def agent_logger() -> logging.Logger:
    """The agent's logger, with PII masked before any handler sees a record."""
    logger = logging.getLogger("agent")
    if not any(isinstance(f, PIIFilter) for f in logger.filters):
        logger.addFilter(PIIFilter())
    return logger
