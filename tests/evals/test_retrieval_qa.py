"""The shipped retrieval QA set: its size and mix, that every label points at a real section, and
that the loader rejects each kind of malformed line with the file and line number."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from evals.retrieval_qa import CORPORA, KINDS, QAFormatError, QAItem, default_qa_path, load_qa
from tools.demo import demo_docs_dir, generate_demo_shop
from tools.settings import Settings

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")


def github_slug(text: str) -> str:
    """GitHub's heading anchor: lower-case, punctuation dropped (except '-'), spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def markdown_anchors(markdown: str) -> set[str]:
    """Every heading anchor of a document, plus "" when there is text before the first heading.
    Repeated headings share one anchor (no GitHub ``-1`` suffix), as the knowledge chunker cites."""
    anchors: set[str] = set()
    preamble = False
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            if not anchors and line.strip():
                preamble = True
            continue
        anchors.add(github_slug(match.group(2)))
    if preamble:
        anchors.add("")
    return anchors


@cache
def corpus_anchors() -> dict[str, frozenset[str]]:
    """source id -> its anchors, for the demo docs, the tau2 policy and the demo catalog."""
    sources: dict[str, frozenset[str]] = {}
    for path in sorted(demo_docs_dir().glob("*.md")):
        sources[f"demo/{path.name}"] = frozenset(markdown_anchors(path.read_text("utf-8")))
    policy = Settings().tau2_dir / "policy.md"
    if not policy.exists():
        pytest.fail(f"tau2 retail policy not found at {policy}: set CONCIERGE_SHARED_DATA_DIR")
    sources["tau2/policy.md"] = frozenset(markdown_anchors(policy.read_text("utf-8")))
    for product in generate_demo_shop(seed=7).products:
        sources[f"catalog/{product.product_id}"] = frozenset({""})
    return sources


@pytest.fixture(scope="module")
def shipped() -> list[QAItem]:
    return load_qa(default_qa_path())


# --------------------------------------------------------------------------------------------------
# The shipped set
# --------------------------------------------------------------------------------------------------


def test_shipped_file_loads_with_enough_items(shipped: list[QAItem]) -> None:
    assert len(shipped) >= 180
    kinds = Counter(item.kind for item in shipped)
    corpora = Counter(item.corpus for item in shipped)
    assert kinds["no_answer"] >= 30
    assert corpora["catalog"] >= 40
    assert sum(1 for i in shipped if i.corpus == "catalog" and i.answerable) >= 40
    assert set(kinds) == set(KINDS)
    assert set(corpora) == set(CORPORA)


def test_shipped_mix_of_kinds(shipped: list[QAItem]) -> None:
    share = {kind: n / len(shipped) for kind, n in Counter(i.kind for i in shipped).items()}
    assert 0.35 <= share["paraphrase"] <= 0.45
    assert 0.20 <= share["direct"] <= 0.30
    assert 0.12 <= share["typo"] <= 0.20


def test_shipped_ids_are_sequential(shipped: list[QAItem]) -> None:
    assert [item.id for item in shipped] == [f"rq-{n:03d}" for n in range(1, len(shipped) + 1)]


def test_shipped_questions_are_distinct(shipped: list[QAItem]) -> None:
    questions = Counter(item.question.casefold() for item in shipped)
    assert [q for q, n in questions.items() if n > 1] == []


def test_every_label_points_at_a_real_section(shipped: list[QAItem]) -> None:
    anchors = corpus_anchors()
    missing = [
        f"{item.id}: {rel.source}#{rel.anchor}"
        for item in shipped
        for rel in item.relevant
        if rel.anchor not in anchors.get(rel.source, frozenset())
    ]
    assert missing == []


def test_labels_cover_the_tau2_policy_sections(shipped: list[QAItem]) -> None:
    labeled = {r.anchor for i in shipped for r in i.relevant if r.source == "tau2/policy.md"}
    for anchor in (
        "retail-agent-policy",  # authentication, one user, confirmation, transfer
        "cancel-pending-order",
        "modify-pending-order",
        "modify-payment",
        "modify-items",
        "return-delivered-order",
        "exchange-delivered-order",
    ):
        assert anchor in labeled


def test_labels_cover_every_demo_doc_and_many_products(shipped: list[QAItem]) -> None:
    sources = {r.source for i in shipped for r in i.relevant}
    docs = {f"demo/{p.name}" for p in demo_docs_dir().glob("*.md")}
    assert docs <= sources
    assert len({s for s in sources if s.startswith("catalog/")}) >= 20


# --------------------------------------------------------------------------------------------------
# The slug helper itself
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Cancel pending order", "cancel-pending-order"),
        ("Modify payment", "modify-payment"),
        ("Late, lost or damaged packages", "late-lost-or-damaged-packages"),
        ("Do the Smart Light Bulbs need a hub?", "do-the-smart-light-bulbs-need-a-hub"),
        ("My package says delivered but I do not have it. What now?",
         "my-package-says-delivered-but-i-do-not-have-it-what-now"),
    ],
)  # fmt: skip
def test_github_slug(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_markdown_anchors_preamble_and_code() -> None:
    doc = "intro\n\n# Title\n\n## Notes\n\n```\n# not a heading\n```\n\n## Notes\n"
    assert markdown_anchors(doc) == {"", "title", "notes"}
    assert markdown_anchors("# Title\n\ntext\n") == {"title"}


# --------------------------------------------------------------------------------------------------
# The validator
# --------------------------------------------------------------------------------------------------

_DROP = object()
_REL = {"source": "demo/faq.md", "anchor": "how-long-do-refunds-take"}
_GOOD: dict[str, object] = {
    "id": "rq-001",
    "question": "How long do refunds take?",
    "relevant": [_REL],
    "kind": "direct",
    "corpus": "demo",
}


def _line(**changes: object) -> str:
    obj = {**_GOOD, **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not _DROP})


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_valid_file_loads(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _line(),
        _line(id="rq-002", kind="no_answer", relevant=[], question="Do you sell kayaks?"),
        _line(id="rq-003", corpus="catalog", relevant=[{"source": "catalog/1", "anchor": ""}]),
    )
    items = load_qa(path)
    assert [i.id for i in items] == ["rq-001", "rq-002", "rq-003"]
    assert items[0].relevant[0].source == "demo/faq.md"
    assert items[0].relevant[0].corpus == "demo"
    assert items[0].answerable and not items[1].answerable
    assert isinstance(items[0].relevant, tuple)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "rq-002", "question": ', "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("", "blank line"),
        (_line(id="rq-002", extra=1), "unknown field 'extra'"),
        (_line(id="rq-002", question=_DROP), "missing field 'question'"),
        (_line(id="rq-002", kind="fuzzy"), "unknown kind 'fuzzy'"),
        (_line(id="rq-002", corpus="web"), "unknown corpus 'web'"),
        (_line(), "duplicate id 'rq-001'"),
        (_line(id="rq-002", kind="no_answer"), "no_answer question must have an empty"),
        (_line(id="rq-002", relevant=[]), "needs at least one relevant section"),
        (_line(id="rq-002", question=""), "'question' must not be empty"),
        (_line(id=2), "'id' must be a string, got number"),
        (_line(id="rq-002", relevant={}), "'relevant' must be a list"),
        (_line(id="rq-002", relevant=["demo/faq.md"]), "relevant[0] must be an object"),
        (
            _line(id="rq-002", relevant=[{"source": "demo/faq.md"}]),
            "missing field in relevant entry 'anchor'",
        ),
        (
            _line(id="rq-002", relevant=[{"source": "demo/faq.md", "anchor": "", "x": 1}]),
            "unknown field in relevant entry 'x'",
        ),
        (
            _line(id="rq-002", relevant=[{"source": "faq.md", "anchor": ""}]),
            "must look like '<corpus>/<name>'",
        ),
        (
            _line(id="rq-002", corpus="catalog", relevant=[{"source": "catalog/1", "anchor": "x"}]),
            "catalog sources have the anchor ''",
        ),
        (
            _line(id="rq-002", relevant=[{"source": "demo/faq.md", "anchor": "Big Heading"}]),
            "is not a lower-case slug",
        ),
        (_line(id="rq-002", relevant=[_REL, _REL]), "duplicate relevant section"),
        (_line(id="rq-002", corpus="tau2"), "no relevant section comes from it"),
    ],
)
def test_malformed_line_is_rejected_with_file_and_line(
    tmp_path: Path, bad: str, message: str
) -> None:
    path = _write(tmp_path, _line(), bad)
    with pytest.raises(QAFormatError) as caught:
        load_qa(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:2: "), text
    assert message in text
    assert "qa.jsonl" in text


def test_error_on_first_line_names_line_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "not json")
    with pytest.raises(QAFormatError, match=r"qa\.jsonl:1: invalid JSON"):
        load_qa(path)


def test_format_error_is_a_value_error() -> None:
    assert issubclass(QAFormatError, ValueError)
