from __future__ import annotations

import pytest

from knowledge.spelling import SpellingCorrector, edit_distance

CORPUS = [
    "Change your shipping address while the order is pending.",
    "The return window is 30 days. We charge nothing for return labels. Refund to a gift card.",
]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("whats teh retrun windw", "whats teh return window"),
        ("how do i chnage my shiping adress?", "how do i change my shipping address?"),
        ("Refnd to my GIFT crad", "refund to my GIFT card"),
    ],
)
def test_misspelled_words_become_corpus_words(typed: str, meant: str) -> None:
    assert SpellingCorrector(CORPUS).correct(typed) == meant


def test_known_and_short_words_are_left_alone() -> None:
    speller = SpellingCorrector(CORPUS, known_words=["France", "capital"])
    assert speller.correct("What's the capital of France?") == "What's the capital of France?"
    assert speller.suggest("teh") is None  # too short to guess
    assert speller.suggest("xylophone") is None  # nothing close


def test_edit_distance_counts_a_swap_as_one_edit() -> None:
    assert edit_distance("chnage", "change") == 1
    assert edit_distance("chnage", "charge") == 2
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == edit_distance("abc", "") == 3
