from __future__ import annotations

import pytest

from classifiers.labels import PRIORITY_TO_SEVERITY, severity_cues, weak_sentiment, weak_severity


def test_priority_mapping_is_documented_scale() -> None:
    assert [PRIORITY_TO_SEVERITY[p] for p in ("low", "medium", "high")] == [2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("text", "intent", "tags", "expected"),
    [
        ("sign me up for the newsletter", "newsletter_subscription", "", 1.0),
        ("where is my order", "track_order", "", 2.0),
        ("I want to complain", "complaint", "", 3.0),
        ("where is my fucking order", "track_order", "W", 3.0),
        ("you charged me twice", "payment_issue", "", 4.0),
        ("the charger caught fire", "complaint", "", 5.0),
        ("I will call my lawyer", "get_refund", "", 5.0),
        ("still waiting for my refund", "track_refund", "", 3.5),
    ],
)
def test_weak_severity(text: str, intent: str, tags: str, expected: float) -> None:
    assert weak_severity(text, intent, tags) == expected


def test_cues() -> None:
    assert severity_cues("URGENT: unauthorized charge!!") == {"legal", "urgency"}


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("could you please help me cancel my order", "cancel_order", "neutral"),
        ("thanks so much, love the shoes", "review", "positive"),
        ("great, thanks for charging me twice", "payment_issue", "negative"),
        ("I want to file a complaint", "complaint", "negative"),
        ("this is awful", None, "negative"),
    ],
)
def test_weak_sentiment(text: str, intent: str | None, expected: str) -> None:
    assert weak_sentiment(text, intent) == expected
