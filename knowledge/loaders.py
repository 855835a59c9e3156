"""Reading files into :class:`Document` objects: Markdown, text, HTML, PDF, JSON and JSONL FAQs, and
the ABCD agent guidelines.

Every loader gives Markdown-shaped text (``#`` headings, ``-`` items, ``|`` tables) so one chunker
handles all formats. Malformed input raises :class:`LoaderError` naming the file (and the line for
JSONL, JSON and front matter).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.chunking import heading_text
from knowledge.documents import DOC_TYPES, DocType, Document
from knowledge.errors import LoaderError, UnsupportedFormatError

if TYPE_CHECKING:
    from tools.settings import Settings

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TEXT_SUFFIXES = frozenset({".txt", ".text"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".json", ".jsonl"}

_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)[ \t#]*$", re.M)


@dataclass(frozen=True)
class SourceRef:
    """Where a file is read from and the ids it gets: ``source`` (cited) and ``scope`` (the group
    whose vanished members are removed when their folder is ingested again)."""

    path: Path
    source: str
    scope: str


# --------------------------------------------------------------------------------------------------
# Source ids
# --------------------------------------------------------------------------------------------------


def known_namespaces(settings: Settings | None = None) -> dict[Path, str]:
    """Folders whose files get a fixed source prefix, so citations do not depend on where the
    checkout or the shared datasets live: the demo docs, the tau2 retail data and ABCD."""
    from tools.demo import demo_docs_dir
    from tools.settings import get_settings

    settings = settings or get_settings()
    return {
        demo_docs_dir().resolve(): "demo",
        settings.tau2_dir.resolve(): "tau2",
        (settings.shared_data_dir / "abcd_partial").resolve(): "abcd",
    }


def _scope_and_prefix(folder: Path, namespaces: dict[Path, str]) -> tuple[str, str]:
    folder = folder.resolve()
    if folder in namespaces:
        return namespaces[folder], f"{namespaces[folder]}/"
    return f"dir:{folder}", ""


def resolve_sources(
    path: Path, namespaces: dict[Path, str] | None = None
) -> tuple[list[SourceRef], str | None]:
    """The files under ``path`` with their source ids, and the scope that is complete (a folder's,
    ``None`` for a single file). Unsupported and hidden files inside a folder are left out; a single
    file of an unsupported type raises :class:`UnsupportedFormatError`. ``namespaces`` defaults to
    :func:`known_namespaces`."""
    namespaces = known_namespaces() if namespaces is None else namespaces
    if path.is_dir():
        scope, prefix = _scope_and_prefix(path, namespaces)
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in SUPPORTED_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        refs = [SourceRef(f, prefix + f.relative_to(path).as_posix(), scope) for f in files]
        return refs, scope
    if not path.exists():
        raise LoaderError(path, "no such file or folder")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormatError(
            path,
            f"unsupported file type {path.suffix or '(none)'!r}; use one of "
            + ", ".join(sorted(SUPPORTED_SUFFIXES)),
        )
    scope, prefix = _scope_and_prefix(path.parent, namespaces)
    return [SourceRef(path, prefix + path.name, scope)], None


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def load_file(ref: SourceRef, *, language: str = "en") -> Document:
    """The document in ``ref.path``, chosen by extension."""
    suffix = ref.path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise UnsupportedFormatError(ref.path, f"unsupported file type {suffix!r}")
    return loader(ref, language)


@dataclass
class Loaded:
    """What :func:`load_paths` read."""

    documents: list[Document] = field(default_factory=list)
    complete_scopes: set[str] = field(default_factory=set)
    """Scopes of the folders read whole: their sources not in ``documents`` are gone."""
    skipped: list[str] = field(default_factory=list)
    """Files in folders that are not documents (JSON of another shape), with the reason."""


def load_paths(
    paths: Iterable[Path], *, language: str = "en", namespaces: dict[Path, str] | None = None
) -> Loaded:
    """Every document under ``paths``. Malformed files raise :class:`LoaderError`; inside a folder,
    files that are not documents at all (:class:`UnsupportedFormatError`) are skipped and listed."""
    loaded = Loaded()
    for path in paths:
        refs, scope = resolve_sources(Path(path), namespaces)
        for ref in refs:
            try:
                loaded.documents.append(load_file(ref, language=language))
            except UnsupportedFormatError as exc:
                if scope is None:
                    raise
                loaded.skipped.append(str(exc))
        if scope is not None:
            loaded.complete_scopes.add(scope)
    return loaded


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaderError(path, f"not UTF-8 text (byte {exc.start}): {exc.reason}") from exc
    except OSError as exc:
        raise LoaderError(path, f"cannot read: {exc.strerror or exc}") from exc


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def _doc_type(path: Path, default: DocType) -> DocType:
    return "faq" if "faq" in path.stem.lower() else default


def _front_matter(path: Path, text: str) -> tuple[dict[str, str], str]:
    """Simple ``key: value`` front matter between ``---`` lines (no nested YAML)."""
    if not text.startswith("---\n"):
        return {}, text
    lines = text.split("\n")
    try:
        end = lines.index("---", 1)
    except ValueError:
        raise LoaderError(path, "front matter opened with '---' is never closed", line=1) from None
    meta: dict[str, str] = {}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise LoaderError(path, f"front matter line is not 'key: value': {line!r}", line=number)
        meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta, "\n".join(lines[end + 1 :])


def _checked_doc_type(path: Path, value: str) -> DocType:
    if value not in DOC_TYPES:
        raise LoaderError(path, f"doc_type {value!r} is not one of {', '.join(DOC_TYPES)}")
    return value


def load_markdown(ref: SourceRef, language: str) -> Document:
    meta, text = _front_matter(ref.path, _read_text(ref.path))
    h1 = _H1.search(text)
    title = meta.get("title") or (heading_text(h1.group(1)) if h1 else _title_from_name(ref.path))
    doc_type = meta.get("doc_type") or meta.get("type")
    return Document(
        source=ref.source,
        title=title,
        text=text,
        doc_type=_checked_doc_type(ref.path, doc_type)
        if doc_type
        else _doc_type(ref.path, "policy"),
        language=meta.get("language") or meta.get("lang") or language,
        updated_at=meta.get("updated_at") or meta.get("updated") or _mtime(ref.path),
        scope=ref.scope,
        location=str(ref.path),
    )


def load_text(ref: SourceRef, language: str) -> Document:
    return Document(
        source=ref.source,
        title=_title_from_name(ref.path),
        text=_read_text(ref.path),
        doc_type=_doc_type(ref.path, "page"),
        language=language,
        updated_at=_mtime(ref.path),
        markdown=False,
        scope=ref.scope,
        location=str(ref.path),
    )


# -- HTML ------------------------------------------------------------------------------------------

_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "nav", "footer", "aside", "form")
_BLOCK_TAGS = frozenset(
    {"p", "ul", "ol", "table", "pre", "blockquote", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
)


def load_html(ref: SourceRef, language: str) -> Document:
    from bs4 import BeautifulSoup

    raw = _read_text(ref.path)
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(list(_DROP_TAGS)):
        tag.decompose()
    html_tag = soup.find("html")
    lang = html_tag.get("lang") if html_tag is not None else None
    root = soup.find("main") or soup.find("article") or soup.body or soup
    lines = list(_html_blocks(root))
    text = "\n\n".join(line for line in lines if line.strip())
    title_tag = soup.find("title")
    h1 = soup.find("h1")
    title = (
        (title_tag.get_text(" ", strip=True) if title_tag else "")
        or (h1.get_text(" ", strip=True) if h1 else "")
        or _title_from_name(ref.path)
    )
    if not text.strip() and "<" not in raw:
        raise LoaderError(ref.path, "no HTML markup found")
    return Document(
        source=ref.source,
        title=title,
        text=text,
        doc_type=_doc_type(ref.path, "page"),
        language=(str(lang).split("-")[0].lower() if lang else language),
        updated_at=_mtime(ref.path),
        scope=ref.scope,
        location=str(ref.path),
    )


def _inline(node: Any) -> str:
    # No separator between inline tags: "<b>back</b>." must stay "back.", not "back ."
    return " ".join(str(node.get_text()).split())


def _html_blocks(node: Any) -> Iterator[str]:
    """Markdown blocks for the children of ``node``; inline runs between blocks become paragraphs."""
    from bs4.element import NavigableString, Tag

    run: list[str] = []

    def flush() -> Iterator[str]:
        text = " ".join(" ".join(run).split())
        run.clear()
        if text:
            yield text

    for child in node.children:
        if isinstance(child, NavigableString):
            if type(child) is NavigableString:  # not comments, doctype, CDATA
                run.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name.lower()
        if name in _BLOCK_TAGS or child.find(list(_BLOCK_TAGS)) is not None:
            yield from flush()
            yield from _html_block(child)
        else:
            run.append(child.get_text(" ", strip=False))
    yield from flush()


def _html_block(tag: Any) -> Iterator[str]:
    name = tag.name.lower()
    if re.fullmatch(r"h[1-6]", name):
        yield f"{'#' * int(name[1])} {_inline(tag)}"
    elif name == "p":
        yield _inline(tag)
    elif name in ("ul", "ol"):
        yield "\n".join(_html_list(tag, 0))
    elif name == "table":
        yield _html_table(tag)
    elif name == "pre":
        yield f"```\n{tag.get_text().strip(chr(10))}\n```"
    elif name == "dl":
        yield "\n".join(
            f"- {_inline(t)}: {_inline(t.find_next_sibling('dd'))}"
            for t in tag.find_all("dt")
            if t.find_next_sibling("dd") is not None
        )
    elif name == "hr":
        return
    else:  # blockquote, div, section, ...: walk inside
        yield from _html_blocks(tag)


def _html_list(tag: Any, depth: int) -> Iterator[str]:
    ordered = tag.name.lower() == "ol"
    for n, item in enumerate(tag.find_all("li", recursive=False), start=1):
        nested = item.find_all(["ul", "ol"], recursive=False)
        for sub in nested:
            sub.extract()
        marker = f"{n}." if ordered else "-"
        yield f"{'   ' * depth}{marker} {_inline(item)}"
        for sub in nested:
            yield from _html_list(sub, depth + 1)


def _html_table(tag: Any) -> str:
    rows = [
        [_inline(cell).replace("|", "/") for cell in row.find_all(["th", "td"])]
        for row in tag.find_all("tr")
    ]
    rows = [r for r in rows if r]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    lines = ["| " + " | ".join(r + [""] * (width - len(r))) + " |" for r in rows]
    lines.insert(1, "|" + " --- |" * width)
    return "\n".join(lines)


# -- PDF -------------------------------------------------------------------------------------------


def load_pdf(ref: SourceRef, language: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(ref.path, strict=False)
        if reader.is_encrypted:
            raise LoaderError(ref.path, "the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except LoaderError:
        raise
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        raise LoaderError(ref.path, f"not a readable PDF: {exc}") from exc
    # Pages become paragraphs; PDF text carries no headings to follow.
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    return Document(
        source=ref.source,
        title=str(title).strip() or _title_from_name(ref.path),
        text=text,
        doc_type=_doc_type(ref.path, "page"),
        language=language,
        updated_at=_mtime(ref.path),
        markdown=False,
        scope=ref.scope,
        location=str(ref.path),
    )


# -- JSON / JSONL ----------------------------------------------------------------------------------


def _faq_record(
    path: Path, record: Any, line: int | None, entry: str = "FAQ entry"
) -> tuple[str, str, str]:
    """(category, question, answer) of one FAQ record ``{"question", "answer", "category"?}``;
    ``entry`` names the record in error messages."""
    if not isinstance(record, dict):
        raise LoaderError(path, f"{entry} must be an object with question and answer", line=line)
    question = record.get("question", record.get("q"))
    answer = record.get("answer", record.get("a"))
    for name, value in (("question", question), ("answer", answer)):
        if not isinstance(value, str) or not value.strip():
            raise LoaderError(path, f"{entry} has no {name} text", line=line)
    category = record.get("category", record.get("section", ""))
    return str(category or "").strip(), " ".join(str(question).split()), str(answer).strip()


def _faq_markdown(title: str, entries: list[tuple[str, str, str]]) -> str:
    parts = [f"# {title}"]
    category = ""
    for cat, question, answer in entries:
        level = "###" if cat else "##"
        if cat and cat != category:
            parts.append(f"## {cat}")
        category = cat
        parts.append(f"{level} {question}\n\n{answer}")
    return "\n\n".join(parts)


def _faq_document(
    ref: SourceRef, title: str, entries: list[tuple[str, str, str]], lang: str
) -> Document:
    if not entries:
        raise LoaderError(ref.path, "no FAQ entries found")
    return Document(
        source=ref.source,
        title=title,
        text=_faq_markdown(title, entries),
        doc_type="faq",
        language=lang,
        updated_at=_mtime(ref.path),
        scope=ref.scope,
        location=str(ref.path),
    )


def load_jsonl(ref: SourceRef, language: str) -> Document:
    """One FAQ entry per line: ``{"question": ..., "answer": ..., "category": ...}``."""
    entries = []
    for number, line in enumerate(_read_text(ref.path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoaderError(ref.path, f"invalid JSON: {exc.msg}", line=number) from None
        entries.append(_faq_record(ref.path, record, number))
    return _faq_document(ref, _title_from_name(ref.path), entries, language)


def load_json(ref: SourceRef, language: str) -> Document:
    """An FAQ (a list of entries, or ``{"title"?, "faqs"|"questions"|"items": [...]}``) or the ABCD
    agent guidelines (flows -> subflows -> instructions and actions)."""
    text = _read_text(ref.path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoaderError(
            ref.path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno
        ) from None
    if _is_abcd_guidelines(data):
        return Document(
            source=ref.source,
            title="Agent guidelines",
            text=_abcd_markdown(ref.path, data),
            doc_type="guideline",
            language=language,
            updated_at=_mtime(ref.path),
            scope=ref.scope,
            location=str(ref.path),
        )
    title = _title_from_name(ref.path)
    records: Any = data
    if isinstance(data, dict):
        title = str(data.get("title") or title)
        records = next((data[k] for k in ("faqs", "questions", "items") if k in data), None)
    looks_like_faq = isinstance(records, list) and (
        not records or any(isinstance(r, dict) and ({"question", "q"} & set(r)) for r in records)
    )
    if not looks_like_faq:
        # Valid JSON of another kind (a dataset, a config) is not a document: a folder walk skips it.
        raise UnsupportedFormatError(
            ref.path,
            "unrecognised JSON: expected a list of FAQ entries, an object with 'faqs', or the "
            "ABCD guidelines (flows with 'subflows')",
        )
    entries = [
        _faq_record(ref.path, record, None, f"FAQ entry {number}")
        for number, record in enumerate(records, start=1)
    ]
    return _faq_document(ref, title, entries, language)


def _is_abcd_guidelines(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(v, dict) and isinstance(v.get("subflows"), dict) for v in data.values())
    )


def _abcd_markdown(path: Path, data: dict[str, Any]) -> str:
    """Flows as ``##`` sections, subflows as ``###`` (their anchors: ``initiate-refund``), each
    with its instructions and the numbered agent actions with their notes."""
    parts = ["# Agent guidelines"]
    for flow, body in data.items():
        parts.append(f"## {flow}")
        if body.get("description"):
            parts.append(f"{flow}: {str(body['description']).strip()}.")
        for subflow, detail in body["subflows"].items():
            if not isinstance(detail, dict):
                raise LoaderError(path, f"subflow {flow} / {subflow} is not an object")
            instructions = [
                str(i).strip() for i in detail.get("instructions", []) if str(i).strip()
            ]
            parts.append(f"### {subflow}")
            if instructions:
                parts.append(instructions[0])
            steps = []
            for n, action in enumerate(detail.get("actions", []), start=1):
                if not isinstance(action, dict):
                    raise LoaderError(path, f"an action of {flow} / {subflow} is not an object")
                button = str(action.get("button", "")).strip()
                label = f"[{button}] " if button and button != "N/A" else ""
                step = f"{n}. {label}{' '.join(str(action.get('text', '')).split())}"
                notes = [f"   - {' '.join(str(s).split())}" for s in action.get("subtext", [])]
                steps.append("\n".join([step, *notes]))
            parts.extend(steps)
            parts.extend(instructions[1:])
    return "\n\n".join(parts)


_LOADERS: dict[str, Callable[[SourceRef, str], Document]] = {
    **dict.fromkeys(MARKDOWN_SUFFIXES, load_markdown),
    **dict.fromkeys(TEXT_SUFFIXES, load_text),
    **dict.fromkeys(HTML_SUFFIXES, load_html),
    ".pdf": load_pdf,
    ".json": load_json,
    ".jsonl": load_jsonl,
}


__all__ = [
    "SUPPORTED_SUFFIXES",
    "Loaded",
    "SourceRef",
    "known_namespaces",
    "load_file",
    "load_html",
    "load_json",
    "load_jsonl",
    "load_markdown",
    "load_paths",
    "load_pdf",
    "load_text",
    "resolve_sources",
]
