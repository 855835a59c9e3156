"""Grounded reading: what a customer's words point at among *their own* data.

Each resolver takes the text and the short list of things the customer could mean (their orders, an
order's items, their payment methods) and returns the ones that fit. One fit is used; several are put
back to the customer by name; none says what exists. Nothing here calls a tool or decides a rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agent.understanding import describe_options, fold

# ------------------------------------------------------------------------------------- identity


def _vocabulary(*lines: str) -> frozenset[str]:
    return frozenset(" ".join(lines).split())


_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_USER_ID: Final = re.compile(r"\b([a-z]+(?:_[a-z]+)+_\d{3,6})\b", re.IGNORECASE)
_ZIP: Final = re.compile(
    r"(?<![\w#$€£.,/-])(\d{5})(?:-\d{4})?(?![\w%]|[.,]\d)"
    r"(?!\s*(?:pieces?|units?|items?|pcs|times|people|orders?|dollars?|usd|bucks|ml|mah|rpm)\b)",
    re.IGNORECASE,
)
_NAME_WORD: Final = r"([a-z][a-z'\-]*)"
_FIRST: Final = re.compile(
    rf"\b(?:first name|given name|nombre|primer nombre|pr[eé]nom)\s*(?:is|es|est|:|'s|=)?\s*"
    rf"{_NAME_WORD}",
    re.IGNORECASE,
)
_LAST: Final = re.compile(
    rf"\b(?:last name|surname|family name|apellido|nom de famille)\s*(?:is|es|est|:|'s|=)?\s*"
    rf"{_NAME_WORD}",
    re.IGNORECASE,
)
_FULL: Final = re.compile(
    rf"\b(?:my name is|my name's|my n\w{{0,2}}me is|name is|name:|me llamo|mi nombre es|"
    rf"je m'appelle|mon nom est)\s+{_NAME_WORD}\s+{_NAME_WORD}",
    re.IGNORECASE,
)
# "I'm", "it's", "this is" open many sentences that are not introductions ("it's already
# updated", "I'm trying to"): a name after them counts only where an introduction ends (a comma,
# the end, the zip code, "from", "here").
_INTRO: Final = re.compile(
    rf"\b(?:this is|i am|i'm|im|it's|its|soy|je suis|c'est)\s+{_NAME_WORD}\s+{_NAME_WORD}"
    rf"(?=\s*(?:[,.;!]|$|\(|here\b|from\b|zip|in\s+(?:zip|\d)|at\s+\d|\d{{5}}|and my\b|"
    rf"living\b|y mi\b|et mon\b))",
    re.IGNORECASE,
)
_NAME_HERE: Final = re.compile(
    rf"(?:^\s*|\b(?:hi|hello|hey|hola|bonjour)[,!.]?\s+){_NAME_WORD}\s+{_NAME_WORD}"
    rf"(?=\s*(?:here\b|,?\s*(?:zip\b|zipcode\b|from\s+\d{{5}}|in\s+\d{{5}}|\(?\d{{5}})))",
    re.IGNORECASE,
)
# A reply that is only a name ("Chen Johnson", "sofia li.").
_BARE_NAME: Final = re.compile(rf"^\s*{_NAME_WORD}\s+{_NAME_WORD}\s*[.!]?\s*$", re.IGNORECASE)
# Words that follow "I'm" or open a sentence but are not names.
_NOT_NAMES: Final = _vocabulary(
    "a an the and or but so my me from in at on to for with zip zipcode code here there not no",
    "yes looking trying calling writing having going just still really very so sorry happy sure",
    "hoping wondering interested unable afraid glad ok okay fine good well back also again now",
    "hi hello hey hola bonjour please thanks thank order orders item items account email mail",
    "un una el la los las de del y en con mi su je suis le la les et du des mon ma mes pas",
    "wanting needing asking contacting reaching done confused frustrated annoyed worried",
    "is it do you can what where when why how who which there their they we our",
    "already updated changed fixed done correct right true wrong sure good great fine sounds",
    "new old same different all both every some any none nothing something everything",
)


@dataclass(frozen=True)
class IdentityClues:
    """What a message says about who the customer is."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    zip: str | None = None
    user_id: str | None = None

    def merged(self, earlier: Mapping[str, Any]) -> IdentityClues:
        """These clues over the ones an earlier message gave (a name now, the zip next)."""
        fields = {k: v for k, v in earlier.items() if k in _CLUE_FIELDS and v}
        fields.update({k: v for k, v in self.as_dict().items() if v})
        return IdentityClues(**fields)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k in _CLUE_FIELDS if (v := getattr(self, k))}

    @property
    def any(self) -> bool:
        return bool(self.as_dict())


_CLUE_FIELDS: Final = ("email", "first_name", "last_name", "zip", "user_id")


def _name_ok(*words: str) -> bool:
    return all(w.lower() not in _NOT_NAMES and len(w) >= 2 for w in words)


def read_identity(text: str, *, expecting: bool = False) -> IdentityClues:
    """E-mail, first and last name, zip code and user id, however the customer phrased them:
    "my first name is Mei and my last name is Patel, zip 76165", "I'm Mei Patel from 76165",
    "mei patel here", "I'm mei_kovacs_8020 in zipcode 28236", in English, Spanish or French.
    ``expecting``: the customer was just asked who they are, so a reply that is only two words
    ("Chen Johnson") is their name."""
    email = m.group(0).lower() if (m := _EMAIL.search(text)) else None
    user_id = m.group(1).lower() if (m := _USER_ID.search(text)) else None
    # Zips are read outside e-mails and user ids, which may hold digits of their own.
    rest = _USER_ID.sub(" ", _EMAIL.sub(" ", text))
    zips = _ZIP.findall(rest)
    first = last = None
    if (m := _FIRST.search(rest)) and _name_ok(m.group(1)):
        first = m.group(1)
    if (m := _LAST.search(rest)) and _name_ok(m.group(1)):
        last = m.group(1)
    if first is None and last is None:
        for pattern in (_FULL, _INTRO, _NAME_HERE):
            found = next(
                (m for m in pattern.finditer(rest) if _name_ok(m.group(1), m.group(2))), None
            )
            if found:
                first, last = found.group(1), found.group(2)
                break
    bare = _BARE_NAME.match(rest) if expecting and first is None and last is None else None
    if bare and _name_ok(bare.group(1), bare.group(2)):
        first, last = bare.group(1), bare.group(2)
    return IdentityClues(
        email=email,
        first_name=first.title() if first else None,
        last_name=last.title() if last else None,
        zip=zips[-1] if zips else None,
        user_id=user_id,
    )


# ---------------------------------------------------------------------------------- words, items

# What customers call a product when they do not use its catalog name.
_ALIASES: Final[Mapping[str, str]] = {
    "bike": "bicycle",
    "kindle": "e-reader",
    "ereader": "e-reader",
    "reader": "e-reader",
    "tee": "t-shirt",
    "tshirt": "t-shirt",
    "shirt": "t-shirt",
    "phone": "smartphone",
    "cellphone": "smartphone",
    "earphone": "earbud",
    "sneaker": "sneaker",
    "trainer": "sneaker",
    "shade": "sunglass",
    "thermometer": "thermostat",
    "bulb": "bulb",
    "vacuum": "vacuum",
    "suitcase": "luggage",
    "mat": "mat",
    "toothbrush": "toothbrush",
    "espresso": "espresso",
    "puzzle": "puzzle",
    "clock": "clock",
}
_GENERIC: Final = _vocabulary(
    "the a an and or of for with my your our this that order orders item items one thing things",
    "stuff product set kit new old",
)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words_of(text: str) -> list[str]:
    """Lower-case, accent-free, singular words (hyphens kept: "t-shirt", "e-reader")."""
    return [_singular(w) for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", fold(text))]


def _mentions(name: str, said: set[str]) -> int:
    """How strongly the customer's words name ``name``: 3 for its head noun as said ("chair" of
    "Office Chair"), 2 for a word the head ends with ("watch" of "Wristwatch"), 1 for another of
    its words alone, 0 for none; each other word said adds 1, so "smart watch" names the Smart
    Watch more than the Wristwatch."""
    name_words = [w for w in words_of(name) if w not in _GENERIC]
    if not name_words:
        return 0
    said = said | {_ALIASES[w] for w in said if w in _ALIASES}
    *others, head = name_words
    if head in said:
        score = 3
    elif any(len(s) >= 4 and len(head) > len(s) and head.endswith(s) for s in said):
        score = 2
    else:
        score = 1 if any(w in said for w in others) else 0
    return score + sum(1 for w in others if w in said) if score >= 2 else score


def _best_named(scored: list[tuple[Mapping[str, Any], int]]) -> list[Mapping[str, Any]]:
    """The items named by their head noun (every one of them: "the lamp and the kettle"), a named
    head as said beating one only contained ("watch": the Smart Watch, not the Wristwatch); items
    named only by another word ("water") when no head is named."""
    best = max((s for _, s in scored), default=0)
    if best >= 3:
        return [i for i, s in scored if s >= 3]
    if best == 2:
        return [i for i, s in scored if s == 2]
    return [i for i, s in scored if s == 1]


# What follows these words is left out: "everything but the boots", "keep the hiking items".
_EXCEPT: Final = re.compile(
    r"\b(?:except|apart from|other than|besides|but not|(?<=everything )but|(?<=all )but|"
    r"keep(?:ing)? the|not the|excepto|menos|salvo|sauf)\b"
)


def _option_words(item: Mapping[str, Any]) -> set[str]:
    values = dict(item.get("options", {})).values()
    return {w for v in values for w in words_of(str(v)) if w not in _GENERIC}


def named_items(text: str, items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The items of one order the customer names, exactly: "the lamp and the kettle", "both
    helmets", "everything except the watch", "all of it". Empty when none is named."""
    folded = fold(text)
    said = set(words_of(text))
    everything = re.search(
        r"\b(all|everything|every item|both|whole order|entire order|todo|todos|ambos|ambas|"
        r"tout|tous|toutes|les deux)\b",
        folded,
    )
    excluded: list[Mapping[str, Any]] = []
    # "everything but the boots", "both beds, keep the headphones": what follows is left out.
    split = _EXCEPT.split(folded, maxsplit=1)
    if len(split) == 2:
        after = set(words_of(split[1]))
        excluded = _best_named([(i, _mentions(str(i["name"]), after)) for i in items])
        said = set(words_of(split[0]))
    scored = [(i, _mentions(str(i["name"]), said)) for i in items if i not in excluded]
    named = _best_named(scored)
    if named and not (everything and not excluded and len(named) == len(items)):
        if len(named) > 1 and not everything:
            # "the red helmet" of two helmets: the options tell them apart.
            by_option = [i for i in named if _option_words(i) & said]
            return by_option or named
        return named
    if everything or excluded:
        return [i for i in items if i not in excluded]
    return []


# ---------------------------------------------------------------------------------------- orders

# What each goal can act on: with no other clue, the orders in these statuses are the ones meant.
GOAL_STATUSES: Final[Mapping[str, frozenset[str]]] = {
    "cancel_order": frozenset({"pending"}),
    "change_address": frozenset({"pending"}),
    "change_payment": frozenset({"pending"}),
    "return_item": frozenset({"delivered"}),
    "exchange_item": frozenset({"delivered"}),
    "refund_status": frozenset({"cancelled", "return requested"}),
}
_STATUS_WORDS: Final[tuple[tuple[frozenset[str], re.Pattern[str]], ...]] = (
    (
        frozenset({"pending", "pending (item modified)"}),
        re.compile(
            r"\b(pending|not (yet )?(been )?shipped|hasn'?t (been )?shipped|has not (been )?shipped|"
            r"hasn'?t (left|gone out)|just (placed|ordered)|processing|pendiente|no (se )?ha "
            r"(sido )?enviado|en attente|pas encore (ete )?expedie)\b"
        ),
    ),
    (
        frozenset({"delivered"}),
        re.compile(
            r"\b(delivered|arrived|received|came|got it|already (got|have)|entregad[oa]|"
            r"recibid[oa]|llego|livre|recu|arrive)\b"
        ),
    ),
    (
        frozenset({"processed"}),
        re.compile(r"\b(shipped|on (its|the) way|in transit|enviado|en camino|expedie)\b"),
    ),
    (frozenset({"cancelled"}), re.compile(r"\b(cancelled|canceled|cancelad[oa]|annule)\b")),
)


def order_label(order: Mapping[str, Any]) -> str:
    """``#W1 (Grill, Backpack)``: an order as a customer recognises it, by its contents."""
    names = ", ".join(dict.fromkeys(str(i["name"]) for i in order.get("items", [])))
    return f"{order['order_id']} ({names})" if names else str(order["order_id"])


def candidate_orders(
    text: str, orders: Sequence[Mapping[str, Any]], goal: str | None
) -> list[Mapping[str, Any]]:
    """The customer's orders that fit what they said, most telling clue first: the items they
    name, then status words ("the one that hasn't shipped"), then what the goal can act on (only
    pending orders can be cancelled). The whole list when nothing narrows it."""
    # Items the customer leaves out ("keep the hiking items") do not point at their order.
    said = set(words_of(_EXCEPT.split(fold(text), maxsplit=1)[0]))
    scores = [
        (o, max((_mentions(str(i["name"]), said) for i in o["items"]), default=0)) for o in orders
    ]
    named = _best_named(scores)
    if named:
        return named
    folded = fold(text)
    for statuses, pattern in _STATUS_WORDS:
        if pattern.search(folded):
            fitting = [o for o in orders if o["status"] in statuses]
            if fitting:
                return fitting
    possible = GOAL_STATUSES.get(goal or "")
    if possible:
        fitting = [o for o in orders if o["status"] in possible]
        if fitting:
            return fitting
    return list(orders)


# ------------------------------------------------------------------------------ payment methods

_PM_WORDS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("gift_card", re.compile(r"\b(gift ?card|tarjeta (de )?regalo|carte cadeau|store credit)\b")),
    ("paypal", re.compile(r"\bpay ?pal\b")),
    (
        "credit_card",
        re.compile(
            r"\b(credit card|debit card|card|visa|mastercard|master card|amex|american express|"
            r"discover|tarjeta|carte)\b"
        ),
    ),
)
_ORIGINAL: Final = re.compile(
    r"\b(original|same (card|method|way|payment)|the (card|one|method) i (paid|used)|"
    r"i paid with|paid with|metodo original|moyen (de paiement )?d'origine)\b"
)


def named_payment_methods(
    text: str, methods: Mapping[str, Mapping[str, Any]], original: str | None = None
) -> list[str]:
    """The ids of the customer's payment methods their words describe: "my Visa", "the card
    ending 7183", "my gift card", "PayPal", "the card I paid with" (``original``)."""
    folded = fold(text)
    digits = re.findall(r"(?<!\d)(\d{4})(?!\d)", folded)
    by_digits = [pid for pid, pm in methods.items() if pm.get("last_four") in digits]
    if by_digits:
        return by_digits
    brands = [
        pid
        for pid, pm in methods.items()
        if pm.get("brand") and re.search(rf"\b{re.escape(str(pm['brand']).lower())}\b", folded)
    ]
    if brands:
        return brands
    if original and _ORIGINAL.search(folded):
        return [original]
    for source, pattern in _PM_WORDS:
        if pattern.search(folded):
            return [pid for pid, pm in methods.items() if pm.get("source") == source]
    return []


def names_a_payment_method(text: str) -> bool:
    """Whether the text speaks of a payment method at all (an answer to "where should the refund
    go?")."""
    folded = fold(text)
    return bool(
        any(p.search(folded) for _, p in _PM_WORDS)
        or _ORIGINAL.search(folded)
        or re.search(r"\bending (in )?\d{4}\b", folded)
    )


def variant_label(variant: Mapping[str, Any]) -> str:
    return describe_options(variant.get("options", {}))
