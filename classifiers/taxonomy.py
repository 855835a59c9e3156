"""The intent taxonomy as data: intents, the category each belongs to, and label spelling aliases.

The default file (``classifiers/data/taxonomy.json``) holds the 27 Bitext intents in Bitext's 11
categories plus ``return_item``, ``exchange_item``, ``product_availability`` and ``out_of_scope``. A shop
brings its own labels by pointing ``concierge train --taxonomy`` at another file of the same shape::

    {"version": 1, "out_of_scope": "out_of_scope",
     "categories": {"ORDER": "..."},
     "intents": {"track_order": {"category": "ORDER", "description": "..."}},
     "aliases": {"intents": {"check_invoices": "check_invoice"}, "categories": {"INVOICES": "INVOICE"}}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from classifiers.errors import TaxonomyError

DEFAULT_TAXONOMY: Final = Path(__file__).resolve().parent / "data" / "taxonomy.json"
"""The taxonomy shipped with concierge."""


@dataclass(frozen=True)
class Taxonomy:
    """Intents in a fixed order (the model's label ids), each with its category."""

    intents: tuple[str, ...]
    categories: Mapping[str, str]
    """intent -> category."""
    out_of_scope: str
    descriptions: Mapping[str, str] = field(default_factory=dict)
    intent_aliases: Mapping[str, str] = field(default_factory=dict)
    category_aliases: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.intents)) != len(self.intents):
            raise TaxonomyError("intents must be unique")
        if self.out_of_scope not in self.intents:
            raise TaxonomyError(f"out_of_scope intent {self.out_of_scope!r} is not an intent")
        missing = [i for i in self.intents if i not in self.categories]
        if missing:
            raise TaxonomyError(f"intents without a category: {missing}")

    @property
    def index(self) -> dict[str, int]:
        """intent -> label id."""
        return {name: i for i, name in enumerate(self.intents)}

    def normalize(self, intent: str) -> str:
        """The taxonomy's spelling of ``intent`` (aliases applied); raises if it is unknown."""
        name = self.intent_aliases.get(intent.strip(), intent.strip())
        if name not in self.categories:
            raise TaxonomyError(f"unknown intent {intent!r}")
        return name

    def normalize_category(self, category: str) -> str:
        return self.category_aliases.get(category.strip(), category.strip())

    def category(self, intent: str) -> str:
        return self.categories[self.normalize(intent)]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written next to a trained model (so it carries its own labels)."""
        cats = sorted(set(self.categories.values()))
        return {
            "version": 1,
            "out_of_scope": self.out_of_scope,
            "categories": dict.fromkeys(cats, ""),
            "intents": {
                i: {"category": self.categories[i], "description": self.descriptions.get(i, "")}
                for i in self.intents
            },
            "aliases": {
                "intents": dict(self.intent_aliases),
                "categories": dict(self.category_aliases),
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "taxonomy") -> Taxonomy:
        try:
            intents_raw = data["intents"]
            categories_raw = data.get("categories", {})
            oos = data["out_of_scope"]
        except (KeyError, TypeError) as exc:
            raise TaxonomyError(f"{source}: missing key {exc}") from None
        if not isinstance(intents_raw, Mapping) or not intents_raw:
            raise TaxonomyError(f"{source}: 'intents' must be a non-empty object")
        categories: dict[str, str] = {}
        descriptions: dict[str, str] = {}
        for name, spec in intents_raw.items():
            if not isinstance(spec, Mapping) or not isinstance(spec.get("category"), str):
                raise TaxonomyError(f"{source}: intent {name!r} needs a 'category' string")
            if categories_raw and spec["category"] not in categories_raw:
                raise TaxonomyError(
                    f"{source}: intent {name!r} has category {spec['category']!r}, "
                    "which is not listed under 'categories'"
                )
            categories[str(name)] = str(spec["category"])
            descriptions[str(name)] = str(spec.get("description", ""))
        aliases = data.get("aliases", {}) or {}
        intent_aliases = {str(k): str(v) for k, v in (aliases.get("intents") or {}).items()}
        for alias, target in intent_aliases.items():
            if target not in categories:
                raise TaxonomyError(f"{source}: alias {alias!r} points at unknown {target!r}")
        return cls(
            intents=tuple(categories),
            categories=categories,
            out_of_scope=str(oos),
            descriptions=descriptions,
            intent_aliases=intent_aliases,
            category_aliases={str(k): str(v) for k, v in (aliases.get("categories") or {}).items()},
        )


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Read a taxonomy file (default: the one shipped with concierge)."""
    source = Path(path) if path is not None else DEFAULT_TAXONOMY
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyError(f"{source}: no such taxonomy file") from None
    except json.JSONDecodeError as exc:
        raise TaxonomyError(f"{source}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, Mapping):
        raise TaxonomyError(f"{source}: expected a JSON object")
    return Taxonomy.from_dict(data, source=str(source))
