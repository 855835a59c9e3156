"""Severity and sentiment labels we derive: the tickets' priority mapping and documented weak labels.

See ``classifiers/data/SEVERITY_RUBRIC.md`` for the 1-5 scale these rules and our hand-written set follow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal

__all__ = [
    "ESCALATION_LEVEL",
    "NEGATIVE_SENTIMENT",
    "PRIORITY_TO_SEVERITY",
    "SENTIMENTS",
    "Sentiment",
    "severity_cues",
    "weak_sentiment",
    "weak_severity",
]

Sentiment = Literal["negative", "neutral", "positive"]
SENTIMENTS: Final[tuple[Sentiment, ...]] = ("negative", "neutral", "positive")
ESCALATION_LEVEL: Final = 4
"""The severity level from which a person should take over (the agent's default,
``agent.context.Context.severity_escalation``, and the frustration rubric's)."""
NEGATIVE_SENTIMENT: Final = -0.85
"""The sentiment score (positive minus negative probability) at and below which a person should take
over (the agent's default, ``agent.context.Context.negative_sentiment``)."""

PRIORITY_TO_SEVERITY: Final[Mapping[str, float]] = {
    "very_low": 1.0,
    "low": 2.0,
    "medium": 3.0,
    "high": 4.0,
    "critical": 5.0,
}
"""Ticket priority -> severity. The English ticket files have three levels (low / medium / high), which
sit at 2 / 3 / 4: a help-desk ticket is never "nothing wrong" (1), and none of them is marked as the
safety / fraud / legal kind of emergency our 5 means. The 5-level German file adds very_low=1 and
critical=5."""

# Base severity of a message by intent before cues (rubric: 1 nothing wrong, 2 routine change or minor
# problem, 3 a real problem pending, 4 money lost / repeated failure / anger, 5 safety, fraud, legal).
_INTENT_BASE: Final[Mapping[str, float]] = {
    "complaint": 3.0,
    "contact_human_agent": 3.0,
    "payment_issue": 3.0,
    "get_refund": 3.0,
    "track_refund": 2.5,
    "track_order": 2.0,
    "delivery_period": 2.0,
    "cancel_order": 2.0,
    "change_order": 2.0,
    "change_shipping_address": 2.0,
    "recover_password": 2.0,
    "registration_problems": 2.0,
    "delete_account": 2.0,
    "return_item": 2.0,
    "exchange_item": 2.0,
    "contact_customer_service": 2.0,
}
_DEFAULT_BASE: Final = 1.0

_CUES: Final[Mapping[str, re.Pattern[str]]] = {
    # Any of these makes a message a 5 on our rubric: a person must look now.
    "safety": re.compile(
        r"\b(fire|caught fire|burn(?:ed|t|s)?|smok(?:e|ing)|injur(?:y|ed|ies)|electr(?:ic )?shock|"
        r"electrocut\w*|explod\w*|allergic|hospital|choking|bleeding|poison\w*|toxic)\b",
        re.IGNORECASE,
    ),
    "legal": re.compile(
        r"\b(lawyer|attorney|legal action|sue|suing|lawsuit|court|chargeback|charge back|"
        r"police|report you|consumer protection|bbb|better business bureau|fraud\w*|scam\w*|"
        r"identity theft|hacked|unauthori[sz]ed|didn'?t authori[sz]e|stolen)\b",
        re.IGNORECASE,
    ),
    "money_loss": re.compile(
        r"\b(charg\w* (?:me )?twice|double[- ]charged|charged two times|overcharg\w*|"
        r"extra charge|took my money|lost my money|never (?:got|received|arrived|came)|"
        r"wrong amount|paid (?:but|and never)|not (?:been )?refunded|still no refund|"
        r"where is my (?:money|refund))\b",
        re.IGNORECASE,
    ),
    "urgency": re.compile(
        r"\b(urgent\w*|asap|immediately|right now|emergency|as soon as possible|need it (?:by )?"
        r"(?:today|tomorrow|tonight)|deadline|critical|third time|3rd time|again and again|"
        r"(?:two|three|\d) weeks|a month|days? late|still (?:no|not|haven'?t|hasn'?t|waiting)\w*)\b|!!",
        re.IGNORECASE,
    ),
    "anger": re.compile(
        r"\b(furious|ridiculous|unacceptable|worst|terrible|horrible|awful|disgust\w*|pathetic|"
        r"useless|incompetent|rip[- ]?off|angry|fed up|sick of|joke|wtf|damn|hell|crap|"
        r"f+u+c+k\w*|shit\w*|stupid|idiots?)\b",
        re.IGNORECASE,
    ),
}


def severity_cues(text: str) -> set[str]:
    """Which cue families (safety, legal, money_loss, urgency, anger) the text shows."""
    return {name for name, pattern in _CUES.items() if pattern.search(text)}


def weak_severity(text: str, intent: str | None = None, tags: str = "") -> float:
    """A rule-derived severity (1-5) for a message with a known intent (Bitext's, our own).

    Base by intent, then: safety or legal/fraud cues -> 5; money-loss cues -> at least 4; urgency,
    anger and Bitext's offensive tag ``W`` each add 1 (anger and ``W`` count once together).
    """
    severity = _INTENT_BASE.get(intent or "", _DEFAULT_BASE)
    cues = severity_cues(text)
    if cues & {"safety", "legal"}:
        return 5.0
    if "money_loss" in cues:
        severity = max(severity, 4.0)
    if "urgency" in cues:
        severity += 1.0
    if "anger" in cues or "W" in tags:
        severity += 1.0
    return float(min(5.0, max(1.0, severity)))


_NEGATIVE_INTENTS: Final = frozenset({"complaint"})
_POLITE: Final = re.compile(
    r"\b(please|pls|plz|kindly|help(?:ing)?|assist(?:ance)?|could you|would you|like to|"
    r"want to|ok(?:ay)?|sure|yes)\b",
    re.IGNORECASE,
)


def weak_sentiment(
    text: str, intent: str | None = None, tags: str = "", *, compound: float | None = None
) -> Sentiment:
    """A weak sentiment label: VADER's compound score (bundled lexicon) with two overrides.

    Complaints, Bitext's offensive tag and anger / money-loss cues read as negative whatever the
    lexicon says (VADER scores "thanks for charging me twice" as positive).
    """
    if compound is None:
        from vader import polarity_scores

        # Politeness is not sentiment: VADER scores "please help me cancel" as clearly positive.
        compound = float(polarity_scores(_POLITE.sub(" ", text))["compound"])
    cues = severity_cues(text)
    if intent in _NEGATIVE_INTENTS or "W" in tags or cues & {"anger", "money_loss", "legal"}:
        return "negative"
    if compound >= 0.35:
        return "positive"
    if compound <= -0.3:
        return "negative"
    return "neutral"
