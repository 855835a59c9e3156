from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.chunking import Chunker
from knowledge.errors import LoaderError, UnsupportedFormatError
from knowledge.loaders import SourceRef, load_file, load_paths, resolve_sources
from tests.knowledge.helpers import write_pdf
from tools.demo import demo_docs_dir
from tools.settings import Settings


def ref(path: Path) -> SourceRef:
    return SourceRef(path, path.name, "test")


def anchors(path: Path) -> list[str]:
    return [c.metadata.anchor for c in Chunker().chunk(load_file(ref(path)))]


# -- formats ---------------------------------------------------------------------------------------


def test_markdown_with_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "shipping.md"
    path.write_text(
        "---\ntitle: Shipping rules\ndoc_type: policy\nlanguage: de\nupdated_at: 2026-10-01\n---\n"
        "# Versand\n\n## Lieferzeiten\n\nDrei Tage.\n"
    )
    document = load_file(ref(path))
    assert document.title == "Shipping rules"
    assert (document.doc_type, document.language, document.updated_at) == (
        "policy",
        "de",
        "2026-10-01",
    )
    assert document.text.startswith("# Versand")
    assert anchors(path) == ["lieferzeiten"]


def test_markdown_title_comes_from_the_first_h1_and_faq_names_give_faq_type(tmp_path: Path) -> None:
    path = tmp_path / "store-faq.md"
    path.write_text("Intro.\n\n# Store **FAQ**\n\n## Hours?\n\nNine to five.\n")
    document = load_file(ref(path))
    assert (document.title, document.doc_type) == ("Store FAQ", "faq")
    assert document.updated_at.endswith("+00:00")


def test_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "care_notes.txt"
    path.write_text("# not a heading\n\nOil the skillet.\n")
    document = load_file(ref(path))
    assert (document.title, document.doc_type, document.markdown) == ("Care notes", "page", False)
    assert anchors(path) == [""]


def test_html(tmp_path: Path) -> None:
    path = tmp_path / "help.html"
    path.write_text(
        """<!doctype html><html lang="fr-CA"><head><title>Help centre</title>
        <script>var tracking = "do not index";</script><style>p {color: red}</style></head>
        <body><nav><a href="/">Home</a></nav><main>
        <h1>Help</h1><p>Welcome <b>back</b>.</p>
        <h2>Returns &amp; refunds</h2>
        <ul><li>Within 30 days<ul><li>with tags</li></ul></li><li>Free labels</li></ul>
        <h3>Timing</h3>
        <table><tr><th>Route</th><th>Days</th></tr><tr><td>Card</td><td>5-7</td></tr></table>
        <div>Loose text in a div.<p>Nested paragraph.</p></div>
        <pre>code line</pre>
        </main><footer>Copyright</footer></body></html>"""
    )
    document = load_file(ref(path))
    assert (document.title, document.language, document.doc_type) == ("Help centre", "fr", "page")
    text = document.text
    assert "tracking" not in text and "color" not in text and "Home" not in text
    assert "Copyright" not in text
    assert "# Help\n\nWelcome back." in text
    assert "## Returns & refunds" in text
    assert "- Within 30 days\n   - with tags\n- Free labels" in text
    assert "| Route | Days |\n| --- | --- |\n| Card | 5-7 |" in text
    assert "Loose text in a div." in text and "Nested paragraph." in text
    assert "```\ncode line\n```" in text
    # GitHub keeps both hyphens around a removed "&".
    assert anchors(path) == ["help", "returns--refunds", "timing"]


def test_pdf(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "warranty.pdf",
        [["Warranty terms", "Two years on electronics (parts and labour)."], ["Page two."]],
        title="Warranty booklet",
    )
    document = load_file(ref(path))
    assert (document.title, document.doc_type, document.markdown) == (
        "Warranty booklet",
        "page",
        False,
    )
    assert "Two years on electronics (parts and labour)." in document.text
    assert "Page two." in document.text


def test_json_faq(tmp_path: Path) -> None:
    path = tmp_path / "help.json"
    path.write_text(
        json.dumps(
            {
                "title": "Help",
                "faqs": [
                    {
                        "question": "Do you ship abroad?",
                        "answer": "No, USA only.",
                        "category": "Shipping",
                    },
                    {"question": "Is shipping free?", "answer": "Yes.", "category": "Shipping"},
                    {"q": "Can I pay with PayPal?", "a": "Yes."},
                ],
            }
        )
    )
    document = load_file(ref(path))
    assert (document.title, document.doc_type) == ("Help", "faq")
    assert anchors(path) == ["do-you-ship-abroad", "is-shipping-free", "can-i-pay-with-paypal"]


def test_jsonl_faq(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    path.write_text(
        '{"question": "Where is my order?", "answer": "Ask us with the order id."}\n\n'
        '{"question": "Can I cancel?", "answer": "While it is pending."}\n'
    )
    assert anchors(path) == ["where-is-my-order", "can-i-cancel"]


def test_abcd_guidelines_become_one_section_per_subflow() -> None:
    path = Settings().shared_data_dir / "abcd_partial" / "guidelines.json"
    if not path.exists():
        pytest.fail(f"ABCD guidelines not found at {path}: set CONCIERGE_SHARED_DATA_DIR")
    document = load_file(SourceRef(path, "abcd/guidelines.json", "abcd"))
    assert (document.title, document.doc_type) == ("Agent guidelines", "guideline")
    chunks = Chunker().chunk(document)
    found = {c.metadata.anchor for c in chunks}
    assert {
        "initiate-refund",
        "reset-two-factor-auth",
        "out-of-stock-general",
        "boots-faq",
    } <= found
    refund = next(c for c in chunks if c.metadata.anchor == "initiate-refund")
    assert refund.metadata.heading_path == ("Agent guidelines", "Product Defect", "Initiate Refund")
    assert "[Validate Purchase]" in refund.text


# -- malformed input -------------------------------------------------------------------------------


def test_malformed_jsonl_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    path.write_text('{"question": "a?", "answer": "b"}\n{"question": "c?", "answer": \n')
    with pytest.raises(LoaderError, match=r"faq\.jsonl, line 2: invalid JSON") as info:
        load_file(ref(path))
    assert (info.value.path, info.value.line) == (path, 2)
    path.write_text('{"question": "a?", "answer": "b"}\n{"question": "c?"}\n')
    with pytest.raises(LoaderError, match=r"faq\.jsonl, line 2: FAQ entry has no answer"):
        load_file(ref(path))
    path.write_text('["not", "an", "object"]\n')
    with pytest.raises(LoaderError, match="line 1: FAQ entry must be an object"):
        load_file(ref(path))


def test_malformed_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "help.json"
    path.write_text('{\n  "faqs": [\n    {"question": "a?",}\n  ]\n}')
    with pytest.raises(LoaderError, match=r"help\.json, line 3: invalid JSON"):
        load_file(ref(path))
    path.write_text('{"products": {}}')
    with pytest.raises(UnsupportedFormatError, match=r"help\.json: unrecognised JSON"):
        load_file(ref(path))
    path.write_text("[]")
    with pytest.raises(LoaderError, match="no FAQ entries"):
        load_file(ref(path))
    path.write_text('[{"question": "a?", "answer": "b"}, {"question": "c?", "answer": ""}]')
    with pytest.raises(LoaderError, match=r"help\.json: FAQ entry 2 has no answer"):
        load_file(ref(path))


def test_malformed_pdf_markdown_and_text_name_the_file(tmp_path: Path) -> None:
    pdf = tmp_path / "broken.pdf"
    pdf.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(LoaderError, match=r"broken\.pdf: not a readable PDF"):
        load_file(ref(pdf))
    binary = tmp_path / "latin.md"
    binary.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(LoaderError, match=r"latin\.md: not UTF-8 text"):
        load_file(ref(binary))
    front = tmp_path / "front.md"
    front.write_text("---\ntitle: never closed\n# Body\n")
    with pytest.raises(LoaderError, match=r"front\.md, line 1: front matter"):
        load_file(ref(front))
    front.write_text("---\ntitle: ok\njust words\n---\n# Body\n")
    with pytest.raises(LoaderError, match=r"front\.md, line 3: front matter line"):
        load_file(ref(front))
    front.write_text("---\ndoc_type: recipe\n---\n# Body\n")
    with pytest.raises(LoaderError, match="doc_type 'recipe'"):
        load_file(ref(front))


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    sheet = tmp_path / "prices.xlsx"
    sheet.write_bytes(b"PK")
    with pytest.raises(
        UnsupportedFormatError, match=r"prices\.xlsx: unsupported file type '\.xlsx'"
    ):
        resolve_sources(sheet)
    with pytest.raises(LoaderError, match="no such file"):
        resolve_sources(tmp_path / "missing.md")


# -- source ids ------------------------------------------------------------------------------------


def test_known_folders_give_stable_source_ids() -> None:
    settings = Settings()
    refs, scope = resolve_sources(demo_docs_dir())
    assert scope == "demo"
    assert "demo/returns-and-refunds.md" in {r.source for r in refs}
    (policy,), scope = resolve_sources(settings.tau2_dir / "policy.md")
    assert (policy.source, policy.scope, scope) == ("tau2/policy.md", "tau2", None)
    (abcd,), _ = resolve_sources(settings.shared_data_dir / "abcd_partial" / "guidelines.json")
    assert (abcd.source, abcd.scope) == ("abcd/guidelines.json", "abcd")


def test_other_folders_use_paths_relative_to_the_ingest_root(tmp_path: Path) -> None:
    (tmp_path / "policies" / "eu").mkdir(parents=True)
    (tmp_path / "policies" / "returns.md").write_text("# Returns\n\nText.")
    (tmp_path / "policies" / "eu" / "vat.txt").write_text("VAT is included.")
    (tmp_path / "policies" / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / "policies" / ".hidden.md").write_text("# Secret")
    (tmp_path / "policies" / "settings.json").write_text('{"theme": "dark"}')
    loaded = load_paths([tmp_path / "policies"])
    assert sorted(d.source for d in loaded.documents) == ["eu/vat.txt", "returns.md"]
    root = f"dir:{(tmp_path / 'policies').resolve()}"
    assert loaded.complete_scopes == {root} and {d.scope for d in loaded.documents} == {root}
    # Valid JSON that is not a document is skipped in a folder, refused when named directly.
    (skipped,) = loaded.skipped
    assert "settings.json: unrecognised JSON" in skipped
    with pytest.raises(UnsupportedFormatError, match="unrecognised JSON"):
        load_paths([tmp_path / "policies" / "settings.json"])
    # A single file is named relative to its folder and belongs to the same scope.
    (single,), scope = resolve_sources(tmp_path / "policies" / "returns.md")
    assert (single.source, single.scope, scope) == ("returns.md", root, None)
