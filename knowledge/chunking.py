"""Cutting documents into chunks that follow their structure and fit a token budget.

A Markdown document is read into sections (one per heading) made of blocks: paragraphs, list items,
tables and code. A chunk never spans two sections, so it has exactly one heading path and one anchor
(what citations point at). Inside a section, whole blocks are packed up to the budget; a block too big
on its own is split by table rows (header repeated), then sentences, then words. Consecutive chunks
of a section overlap by up to ``overlap_tokens`` of trailing text. Every chunk's text starts with its
breadcrumb (title > headings) so the embedding and BM25 both see the context.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from knowledge.documents import Chunk, ChunkMetadata, Document, sha256_text
from knowledge.tokens import DEFAULT_ENCODING, get_encoding

BlockKind = Literal["paragraph", "item", "table", "code"]

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+")
_TABLE = re.compile(r"^ {0,3}\|")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+(?=\S)")


@dataclass(frozen=True)
class ChunkingConfig:
    """How big chunks are. Sizes are tiktoken tokens of ``encoding``."""

    chunk_tokens: int = 200
    overlap_tokens: int = 32
    encoding: str = DEFAULT_ENCODING

    def __post_init__(self) -> None:
        if self.chunk_tokens < 32:
            raise ValueError("chunk_tokens must be at least 32")
        if not 0 <= self.overlap_tokens < self.chunk_tokens // 2:
            raise ValueError("overlap_tokens must be between 0 and half of chunk_tokens")

    @property
    def signature(self) -> str:
        """Changes whenever chunks would come out differently, so stored chunks are redone."""
        return f"v1:{self.encoding}:{self.chunk_tokens}:{self.overlap_tokens}"


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str


@dataclass
class Section:
    headings: tuple[str, ...]
    blocks: list[Block] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Anchors
# --------------------------------------------------------------------------------------------------

_INLINE_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3}|`+|~~)")
_NOT_SLUG = re.compile(r"[^\w\- ]", re.UNICODE)


def heading_text(raw: str) -> str:
    """A heading as a reader sees it: links become their text, emphasis and code marks go."""
    text = _INLINE_LINK.sub(r"\1", raw)
    return " ".join(_EMPHASIS.sub("", text).split())


def slugify(heading: str) -> str:
    """GitHub's anchor for a heading: lower-case, punctuation removed, each space a hyphen
    ("## Cancel pending order" -> ``cancel-pending-order``). GitHub's ``-1`` suffixes for repeated
    headings are not added: a citation names the section, not its position."""
    text = unicodedata.normalize("NFKC", heading_text(heading)).strip().lower()
    return _NOT_SLUG.sub("", text).replace(" ", "-")


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def parse_sections(text: str, *, markdown: bool = True) -> list[Section]:
    """Sections in document order; text before the first heading is a section with no headings.
    With ``markdown=False`` every line is plain text (paragraphs split at blank lines)."""
    stack: list[tuple[int, str]] = []
    sections = [Section(())]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    pending: list[str] = []
    kind: BlockKind = "paragraph"
    fence = ""

    def flush() -> None:
        nonlocal pending, kind
        body = "\n".join(pending).strip("\n")
        if body.strip():
            sections[-1].blocks.append(Block(kind, body))
        pending, kind = [], "paragraph"

    def open_section(level: int, title: str) -> None:
        flush()
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading_text(title)))
        sections.append(Section(tuple(h for _, h in stack)))

    for line in lines:
        if fence:
            pending.append(line)
            if line.strip().startswith(fence):
                flush()
                fence = ""
            continue
        if not markdown:
            if line.strip():
                pending.append(line)
            else:
                flush()
            continue
        if m := _FENCE.match(line):
            flush()
            fence, kind = m.group(1)[:3], "code"
            pending.append(line)
            continue
        if m := _ATX.match(line):
            open_section(len(m.group(1)), m.group(2) or "")
            continue
        if (
            _SETEXT.match(line)
            and kind == "paragraph"
            and len(pending) == 1
            and not _ITEM.match(pending[0])
        ):
            title = pending.pop()
            open_section(1 if line.strip().startswith("=") else 2, title)
            continue
        if _HR.match(line):
            flush()
            continue
        if not line.strip():
            # A blank line ends paragraphs and tables; list items may continue after it when
            # the next line is indented (handled below), so only end those lazily.
            if kind != "item":
                flush()
            else:
                pending.append(line)
            continue
        if _ITEM.match(line) or (_TABLE.match(line) and kind != "table"):
            flush()
            kind = "item" if _ITEM.match(line) else "table"
            pending.append(line)
            continue
        if kind == "item" and pending and not pending[-1].strip() and not line.startswith(" "):
            # Unindented text after a blank line closes the list item.
            flush()
        if kind == "table" and not _TABLE.match(line):
            flush()
        pending.append(line)
    flush()
    return [s for s in sections if s.blocks or s.headings]


# --------------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    kind: BlockKind
    text: str
    tokens: int
    block: int = -1
    """Index of the block it was cut from; pieces of one block rejoin with ``sep``."""
    sep: str = "\n\n"


class Chunker:
    """Turns documents into chunks with :class:`ChunkingConfig` sizes."""

    def __init__(self, config: ChunkingConfig | None = None) -> None:
        self.config = config or ChunkingConfig()
        self._encoding = get_encoding(self.config.encoding)

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def source_hash(self, document: Document) -> str:
        return sha256_text(f"{document.content_hash}:{self.config.signature}")

    def chunk(self, document: Document) -> list[Chunk]:
        """The document's chunks in reading order; a document with no text gives none."""
        source_hash = self.source_hash(document)
        chunks: list[Chunk] = []
        for section in parse_sections(document.text, markdown=document.markdown):
            crumbs = list(section.headings)
            if not crumbs or crumbs[0] != document.title:
                crumbs.insert(0, document.title)
            breadcrumb = " > ".join(c for c in crumbs if c)
            anchor = slugify(section.headings[-1]) if section.headings else ""
            if not section.blocks:
                # A heading directly followed by a sub-heading holds no text of its own.
                continue
            budget = self.config.chunk_tokens - self.count(breadcrumb) - 2
            for body in self._pack(section.blocks, budget):
                text = f"{breadcrumb}\n\n{body}"
                position = len(chunks)
                meta = ChunkMetadata(
                    source=document.source,
                    title=document.title,
                    heading_path=section.headings,
                    anchor=anchor,
                    language=document.language,
                    doc_type=document.doc_type,
                    updated_at=document.updated_at,
                    content_hash=sha256_text(text),
                    source_hash=source_hash,
                    position=position,
                    token_count=self.count(text),
                    product_id=document.product_id,
                    scope=document.scope,
                )
                chunks.append(Chunk(f"{document.source}#{position}", text, meta))
        return chunks

    # -- packing ------------------------------------------------------------------------------------

    def _pack(self, blocks: list[Block], budget: int) -> Iterator[str]:
        # A very long breadcrumb must still leave room for some text.
        budget = max(budget, self.config.chunk_tokens // 2)
        units = [u for i, block in enumerate(blocks) for u in self._units(block, i, budget)]
        current: list[_Unit] = []
        fresh = 0  # units in `current` that are not overlap carried from the previous chunk
        for unit in units:
            if current and fresh and self.count(_join([*current, unit])) > budget:
                yield _join(current)
                current = self._overlap(current, unit, budget)
                fresh = 0
            current.append(unit)
            fresh += 1
        if current and fresh:
            yield _join(current)

    def _overlap(self, previous: list[_Unit], following: _Unit, budget: int) -> list[_Unit]:
        """Trailing text of ``previous`` (up to ``overlap_tokens``) to start the next chunk with."""
        room = min(self.config.overlap_tokens, budget - following.tokens - 2)
        carried: list[_Unit] = []
        for unit in reversed(previous):
            if room <= 0 or unit.kind == "table":
                # Table rows carried above the next part's repeated header would read as a new table.
                break
            if unit.tokens + 1 <= room:
                carried.insert(0, unit)
                room -= unit.tokens + 1
                continue
            # Only the end of this unit fits; overlap is contiguous text, so stop after it.
            tail = self._tail(unit.text, room, prose=unit.kind == "paragraph")
            if tail:
                carried.insert(0, _Unit(unit.kind, tail, self.count(tail), unit.block, unit.sep))
            break
        return carried

    def _tail(self, text: str, room: int, *, prose: bool) -> str:
        """The longest end of ``text`` within ``room`` tokens: whole lines if any fit; for a single
        line of prose, its last sentences, else its last words. (List items and code lines are never
        cut: half an item reads as a different fact.)"""
        lines = text.split("\n")
        taken: list[str] = []
        for line in reversed(lines):
            n = self.count(line) + 1
            if n > room:
                break
            taken.insert(0, line)
            room -= n
        if taken or len(lines) > 1 or not prose:
            return "\n".join(taken)
        for pieces, sep in ((_SENTENCE_END.split(lines[-1]), " "), (lines[-1].split(), " ")):
            left = room
            for piece in reversed(pieces):
                left -= self.count(piece) + 1
                if left < 0:
                    break
                taken.insert(0, piece)
            if taken:
                return sep.join(taken)
        return ""

    def _units(self, block: Block, index: int, budget: int) -> Iterator[_Unit]:
        """The block whole when it fits, else pieces that do (each at most ``budget`` tokens)."""
        n = self.count(block.text)
        if n <= budget:
            yield _Unit(block.kind, block.text, n, index)
        elif block.kind == "table":
            for unit in self._table_units(block, budget):
                yield _Unit(unit.kind, unit.text, unit.tokens, index)  # parts stand apart
        else:
            # Pieces leave room for the overlap the next chunk starts with.
            room = budget - self.config.overlap_tokens - 2
            yield from self._grouped(block.kind, self._atoms(block.text, room), room, index)

    def _table_units(self, block: Block, budget: int) -> Iterator[_Unit]:
        rows = block.text.split("\n")
        header = rows[:2] if len(rows) > 1 and set(rows[1].strip()) <= set("|-: ") else rows[:1]
        head = "\n".join(header)
        room = budget - self.count(head) - 1
        if room < budget // 4:
            # A header too wide to repeat: split the rows as plain lines.
            yield from self._grouped("table", self._atoms(block.text, budget), budget)
            return
        body = self._atoms("\n".join(rows[len(header) :]), room)
        for group in self._grouped("table", body, room):
            text = f"{head}\n{group.text}"
            yield _Unit("table", text, self.count(text))

    def _atoms(self, text: str, budget: int) -> list[tuple[str, str]]:
        """``text`` cut into (separator before, piece) pairs of at most ``budget`` tokens each: by
        lines, then sentences, then words; joining them back with their separators restores it."""
        atoms: list[tuple[str, str]] = []
        for line in text.split("\n"):
            sep = "\n"
            if self.count(line) <= budget:
                atoms.append((sep, line))
                continue
            for sentence in _SENTENCE_END.split(line):
                for part in self._words(sentence, budget):
                    atoms.append((sep, part))
                    sep = " "
        return atoms

    def _grouped(
        self, kind: BlockKind, atoms: list[tuple[str, str]], budget: int, index: int = -1
    ) -> Iterator[_Unit]:
        """Consecutive atoms packed into units of at most ``budget`` tokens; each unit records the
        separator it had before it in the block, so neighbours rejoin as they were written."""
        current, lead = "", "\n"
        for sep, part in atoms:
            candidate = f"{current}{sep}{part}" if current else part
            if current and self.count(candidate) > budget:
                yield _Unit(kind, current, self.count(current), index, lead)
                candidate, lead = part, sep
            current = candidate
        if current:
            yield _Unit(kind, current, self.count(current), index, lead)

    def _words(self, piece: str, budget: int) -> Iterator[str]:
        """``piece`` in parts of at most ``budget`` tokens, cut between words where possible."""
        if self.count(piece) <= budget:
            yield piece
            return
        current = ""
        for word in piece.split(" "):
            if self.count(word) > budget:
                if current:
                    yield current
                    current = ""
                tokens = self._encoding.encode_ordinary(word)
                for i in range(0, len(tokens), budget):
                    yield self._encoding.decode(tokens[i : i + budget])
                continue
            candidate = f"{current} {word}" if current else word
            if current and self.count(candidate) > budget:
                yield current
                candidate = word
            current = candidate
        if current:
            yield current


def _join(units: list[_Unit]) -> str:
    """Blocks separated by blank lines, except consecutive list items (one list); pieces of one
    block rejoined as they were written."""
    out = ""
    for i, unit in enumerate(units):
        if i:
            before = units[i - 1]
            if unit.block >= 0 and unit.block == before.block:
                out += unit.sep
            elif unit.kind == "item" and before.kind == "item":
                out += "\n"
            else:
                out += "\n\n"
        out += unit.text
    return out


__all__ = [
    "Block",
    "ChunkingConfig",
    "Chunker",
    "Section",
    "heading_text",
    "parse_sections",
    "slugify",
]
