from __future__ import annotations

import pytest

from knowledge.chunking import Chunker, ChunkingConfig, parse_sections, slugify
from knowledge.documents import Document
from tools.demo import demo_docs_dir


def doc(text: str, *, title: str = "Guide", markdown: bool = True) -> Document:
    return Document(
        source="test/guide.md", title=title, text=text, doc_type="policy", markdown=markdown
    )


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Cancel pending order", "cancel-pending-order"),
        ("Textiles, bedding and socks", "textiles-bedding-and-socks"),
        (
            "Do the Trail Running Shoes run true to size?",
            "do-the-trail-running-shoes-run-true-to-size",
        ),
        (
            "My package says delivered but I do not have it. What now?",
            "my-package-says-delivered-but-i-do-not-have-it-what-now",
        ),
        ("**Gift cards** and `codes`", "gift-cards-and-codes"),
        ("See [the FAQ](faq.md)", "see-the-faq"),
        ("Out-of-Stock General", "out-of-stock-general"),
        ("Reset Two-Factor Auth", "reset-two-factor-auth"),
    ],
)
def test_anchors_are_github_slugs(heading: str, slug: str) -> None:
    assert slugify(heading) == slug


def test_sections_follow_headings_and_skip_code_fences() -> None:
    text = "\n".join(
        [
            "Intro before any heading.",
            "# Title",
            "## Returns",
            "- one",
            "  continued",
            "- two",
            "",
            "```",
            "# not a heading",
            "```",
            "### Shoes",
            "Text.",
            "",
            "Setext heading",
            "--------------",
            "Under it.",
            "## Refunds ##",
            "| a | b |",
            "| - | - |",
            "| 1 | 2 |",
        ]
    )
    sections = parse_sections(text)
    assert [s.headings for s in sections] == [
        (),
        ("Title",),
        ("Title", "Returns"),
        ("Title", "Returns", "Shoes"),
        ("Title", "Setext heading"),
        ("Title", "Refunds"),
    ]
    returns = sections[2].blocks
    assert [b.kind for b in returns] == ["item", "item", "code"]
    assert returns[0].text == "- one\n  continued"
    assert "# not a heading" in returns[2].text
    assert sections[5].blocks[0].kind == "table"


def test_plain_text_has_no_headings() -> None:
    sections = parse_sections("# not a heading\n\nsecond paragraph", markdown=False)
    assert [s.headings for s in sections] == [()]
    assert [b.text for b in sections[0].blocks] == ["# not a heading", "second paragraph"]


def test_chunks_never_cross_sections_and_carry_their_anchor() -> None:
    chunker = Chunker(ChunkingConfig(chunk_tokens=64, overlap_tokens=8))
    text = (
        "Preamble.\n\n# Guide\n\nIntro.\n\n## Cancel pending order\n\nOnly pending orders.\n\n"
        "## Refunds\n\nFive to seven days."
    )
    chunks = chunker.chunk(doc(text))
    assert [(c.metadata.heading_path, c.metadata.anchor) for c in chunks] == [
        ((), ""),
        (("Guide",), "guide"),
        (("Guide", "Cancel pending order"), "cancel-pending-order"),
        (("Guide", "Refunds"), "refunds"),
    ]
    # The breadcrumb leads every chunk; the document title stands in for a missing H1.
    assert chunks[0].text == "Guide\n\nPreamble."
    assert chunks[2].text.startswith("Guide > Cancel pending order\n\n")
    assert [c.id for c in chunks] == [f"test/guide.md#{i}" for i in range(4)]


def test_long_sections_are_split_within_the_token_limit_with_overlap() -> None:
    config = ChunkingConfig(chunk_tokens=60, overlap_tokens=12)
    chunker = Chunker(config)
    sentences = " ".join(f"Rule {i} says the parcel {i} ships in {i} days." for i in range(40))
    items = "\n".join(f"- Item {i}: a blue widget with {i} parts" for i in range(30))
    rows = "\n".join(f"| row {i} | {i} dollars |" for i in range(30))
    code = "```\n" + "\n".join(f"print({i})" for i in range(60)) + "\n```"
    long_word = "x" * 400
    table = f"| name | price |\n| --- | --- |\n{rows}"
    text = (
        f"# Guide\n\n## Prose\n\n{sentences}\n\n## List\n\n{items}\n\n## Table\n\n{table}\n\n"
        f"## Code\n\n{code}\n\n## Word\n\n{long_word}"
    )
    chunks = chunker.chunk(doc(text))
    assert all(c.metadata.token_count <= config.chunk_tokens for c in chunks)
    assert all(chunker.count(c.text) == c.metadata.token_count for c in chunks)

    prose = [c.text.split("\n\n", 1)[1] for c in chunks if c.metadata.anchor == "prose"]
    assert len(prose) > 3
    # Every next chunk starts with the end of the previous one.
    for before, after in zip(prose, prose[1:], strict=False):
        first_sentence = after.split(". ")[0]
        assert first_sentence in before

    listed = [c.text for c in chunks if c.metadata.anchor == "list"]
    assert len(listed) > 1
    # List items are never cut in half.
    for chunk in listed:
        for line in chunk.split("\n\n", 1)[1].split("\n"):
            assert line.startswith("- Item ") and line.endswith(" parts")

    tables = [c.text for c in chunks if c.metadata.anchor == "table"]
    assert len(tables) > 1
    assert all("| name | price |\n| --- | --- |" in t for t in tables)
    assert all(c.metadata.anchor for c in chunks)


def test_metadata_is_complete() -> None:
    document = Document(
        source="demo/faq.md",
        title="FAQ",
        text="# FAQ\n\n## Is it waterproof?\n\nYes.",
        doc_type="faq",
        language="en",
        updated_at="2026-11-01T00:00:00+00:00",
    )
    chunker = Chunker()
    (chunk,) = chunker.chunk(document)
    meta = chunk.metadata
    assert meta.source == "demo/faq.md"
    assert meta.title == "FAQ"
    assert meta.heading_path == ("FAQ", "Is it waterproof?")
    assert meta.anchor == "is-it-waterproof"
    assert (meta.language, meta.doc_type) == ("en", "faq")
    assert meta.updated_at == "2026-11-01T00:00:00+00:00"
    assert len(meta.content_hash) == 64 and meta.source_hash == chunker.source_hash(document)
    assert type(meta).from_chroma(meta.to_chroma()) == meta


def test_chunker_settings_change_the_source_hash() -> None:
    document = doc("# Guide\n\nText.")
    small = Chunker(ChunkingConfig(chunk_tokens=64, overlap_tokens=8))
    assert small.source_hash(document) != Chunker().source_hash(document)
    with pytest.raises(ValueError, match="overlap"):
        ChunkingConfig(chunk_tokens=64, overlap_tokens=40)


def test_demo_docs_chunk_within_limits_and_under_minilm_length() -> None:
    chunker = Chunker()
    for path in sorted(demo_docs_dir().glob("*.md")):
        chunks = chunker.chunk(doc(path.read_text(), title=path.stem))
        assert chunks, path
        assert max(c.metadata.token_count for c in chunks) <= 200
