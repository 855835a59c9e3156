"""Spanish and French questions searched in English documents.

The shop's documents are written in English and embedded with an English model, so "¿cuánto tarda el
envío?" finds nothing by its own words: neither BM25 nor MiniLM knows "envío". :func:`english_query`
searches with the English words of a small support vocabulary (shipping, returns, refunds,
exchanges, payments, warranty, orders, accounts) that the question uses, and the names and numbers
it gives, so both halves of the hybrid search have something to match.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# Folded (lower case, no accents) word stems, each with the English words a document would use.
# Stems match at the start of a word, so "reembolso" covers "reembolsos" and "reembolsan".
_SPANISH: Final[dict[str, str]] = {
    "envi": "shipping ship delivery",
    "entreg": "delivery delivered",
    "llega": "delivery arrive",
    "tard": "how long takes days",
    "demor": "how long takes days late",
    "dias": "days",
    "plazo": "days window",
    "gratis": "free shipping",
    "gratuit": "free",
    "caro": "cost longer",
    "cuesta": "cost price",
    "devol": "return refund",
    "devuelv": "return",
    "reembols": "refund refunds",
    "cambi": "exchange change",
    "talla": "size",
    "color": "color",
    "cancel": "cancel cancelling",
    "pedido": "order",
    "pag": "pay payment",
    "tarjeta": "card",
    "regalo": "gift card",
    "garant": "warranty",
    "cubre": "covers cover",
    "lav": "wash care",
    "direcc": "address",
    "cuenta": "account",
    "privacidad": "privacy data",
    "datos": "data",
    "rastre": "tracking track",
    "seguimiento": "tracking",
    "paquete": "package",
    "extranjero": "outside USA ship",
    "fuera": "outside",
    "queda": "fit",
    "roto": "damaged faulty",
    "danad": "damaged",
    "defectuos": "faulty",
}
_FRENCH: Final[dict[str, str]] = {
    "livr": "delivery ship shipping",
    "expedi": "shipping ship",
    "envoi": "shipping",
    "delai": "how long days",
    "combien de temps": "how long takes",
    "jours": "days",
    "gratuit": "free shipping",
    "frais": "cost fee shipping",
    "cout": "cost price",
    "retour": "return",
    "retourn": "return",
    "renvoy": "return",
    "rembours": "refund refunds",
    "echang": "exchange",
    "taille": "size",
    "couleur": "color",
    "annul": "cancel cancelling",
    "commande": "order",
    "paie": "pay payment",
    "carte": "card",
    "cadeau": "gift card",
    "garanti": "warranty",
    "couvre": "covers cover",
    "lav": "wash care",
    "entretien": "care",
    "adresse": "address",
    "compte": "account",
    "confidentialite": "privacy data",
    "donnees": "data",
    "suivi": "tracking track",
    "colis": "package",
    "etranger": "outside USA ship",
    "canada": "outside USA ship",
    "abime": "damaged",
    "endommag": "damaged",
    "defectueu": "faulty",
}
_GLOSSARIES: Final = {"es": _SPANISH, "fr": _FRENCH}


def fold(text: str) -> str:
    """Lower case without accents, so "devolución" and "devolucion" read the same."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def english_terms(text: str, language: str) -> list[str]:
    """The English words of the support vocabulary ``text`` uses (none in English, or in a language
    without a glossary), in the order they come, each once."""
    glossary = _GLOSSARIES.get(language)
    if not glossary:
        return []
    folded = fold(text)
    found: list[tuple[int, str]] = []
    for stem, english in glossary.items():
        match = re.search(r"(?<![a-z])" + re.escape(stem), folded)
        if match:
            found.append((match.start(), english))
    words: list[str] = []
    for _, english in sorted(found):
        words.extend(w for w in english.split() if w not in words)
    return words


def english_query(text: str, language: str) -> str:
    """What to search English documents with for ``text``: in Spanish or French, the English words
    of what it asks, with the names and numbers it gives ("Hawaii", "PayPal", "30"); the other
    words would only dilute the match (and make the search doubt the question is covered at all).
    ``text`` itself where the vocabulary knows none of its words, and in English."""
    terms = english_terms(text, language)
    if not terms:
        return text
    words = _TOKEN.findall(text)
    kept = [w for i, w in enumerate(words) if (i and w[0].isupper()) or any(c.isdigit() for c in w)]
    return " ".join([*terms, *kept])


_TOKEN: Final = re.compile(r"[^\W_][\w'-]*")
