"""Grounded reading: what a customer's words point at among *their own* data.

Each resolver takes the text and the short list of things the customer could mean (their orders, an
order's items, their payment methods) and returns the ones that fit. One fit is used; several are put
back to the customer by name; none says what exists. Nothing here calls a tool or decides a rule.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agent.understanding import US_STATES, describe_options
from agent.wording import products_named_in
from knowledge.glossary import fold

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
    rf"(?:^\s*|\b(?:hi|hello|hey|hola|bonjour|good (?:morning|afternoon|evening))"
    rf"(?:\s+(?:there|team|all|folks))?[,!.]?\s+){_NAME_WORD}\s+{_NAME_WORD}\b"
    rf"(?=\s*(?:here\b|,?\s*(?:zip\b|zipcode\b|from\s+\d{{5}}|in\s+\d{{5}}|\(?\d{{5}})))",
    re.IGNORECASE,
)
# A first name alone: "my name is Noah and my last name is Patel", "my name is Noah, zip 10108".
_GIVEN: Final = re.compile(
    rf"\b(?:my name is|my name's|me llamo|mi nombre es|je m'appelle)\s+{_NAME_WORD}"
    rf"(?=\s*(?:[,.;!]|$|and\b|y\b|et\b))",
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


# "please update my address to 1200 Oak Avenue, Austin, TX 78701": that zip is the new address's,
# not the one on the account that verifies the customer.
_NEW_ADDRESS: Final = re.compile(
    r"\b(change|update|correct|fix|new|moved?|ship (it|them|this|the order) to|send (it|them) to|"
    r"nueva|cambiar|nouvelle|changer)\b",
    re.IGNORECASE,
)


def _new_address_zip(text: str, start: int) -> bool:
    before = text[:start]
    change = _NEW_ADDRESS.search(before)
    return bool(
        change
        and re.search(r"\b[A-Z]{2},?\s*$", before)
        and re.search(r"\b\d{1,6}\s+[A-Za-z]", before[change.end() :])
    )


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
    zips = [m.group(1) for m in _ZIP.finditer(rest) if not _new_address_zip(rest, m.start())]
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
    if first is None and (m := _GIVEN.search(rest)) and _name_ok(m.group(1)):
        first = m.group(1)
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


def _said(text: str) -> set[str]:
    """The words a customer said, with the English words of any product they named in Spanish or
    French ("las gafas de sol" also says "sunglasses"), for matching against the shop's names."""
    return set(words_of(text)) | {w for name in products_named_in(text) for w in words_of(name)}


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
    r"\b(?:except|apart from|other than|besides|but not (?=the |my )|(?<=everything )but|(?<=all )but|"
    r"keep(?:ing)? the|not the|not (?:associated|related|connected|linked) (?:with|to)|"
    r"unrelated to|(?:that|which) (?:is|are)n'?t|(?:that|which) (?:is|are) not|"
    r"excepto|menos|salvo|sauf)\b"
)


def _option_words(item: Mapping[str, Any]) -> set[str]:
    values = dict(item.get("options", {})).values()
    return {w for v in values for w in words_of(str(v)) if w not in _GENERIC}


_ALL_BUT: Final = re.compile(
    r"\b(all|everything|every item|whole order|entire order|todo|todos|tout|tous|toutes)\b"
)


def _left_out(folded: str) -> tuple[str, str | None]:
    """``folded`` split into what the customer names and what they leave out: "return everything
    but the tablet. There is an e-reader in it I want back" leaves out the tablet only (the
    exception ends with its sentence); None when nothing is left out."""
    split = _EXCEPT.split(folded, maxsplit=1)
    if len(split) != 2:
        return folded, None
    left_out, *rest = re.split(r"[.;!?]", split[1], maxsplit=1)
    return " ".join([split[0], *rest]), left_out


def names_by_exclusion(text: str) -> bool:
    """Whether the items are named as a whole or by what is left out ("everything but the pet
    bed", "all of it"), which reads within one order, never across several."""
    folded = fold(text)
    return bool(_ALL_BUT.search(folded) or _EXCEPT.search(folded))


def named_items(text: str, items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The items of one order the customer names, exactly: "the lamp and the kettle", "both
    helmets", "everything except the watch", "all of it". Empty when none is named."""
    folded = fold(text)
    said = _said(text)
    # "both" names items only as "both helmets", "both of them" or "return both": "an i9 and
    # 256GB, both in silver" names none (tau2 task 74 exchanged every item of an order).
    everything = re.search(
        r"\b(all|everything|every item|both(?=\s+(?:of|items?|the|my|these|those|\w+s)\b|\s*"
        r"(?:[.,;!?]|$))|whole order|entire order|todo|todos|ambos|ambas|tout|tous|toutes|"
        r"les deux)\b",
        folded,
    )
    excluded: list[Mapping[str, Any]] = []
    # "everything but the boots", "both beds, keep the headphones": what follows is left out.
    named_part, left_out = _left_out(folded)
    if left_out is not None:
        after = _said(left_out)
        excluded = _best_named([(i, _mentions(str(i["name"]), after)) for i in items])
        said = _said(named_part)
    if excluded and _ALL_BUT.search(named_part):
        # "everything but the tablet; the e-reader in it has to go too": all but the exception.
        return [i for i in items if i not in excluded]
    scored = [(i, _mentions(str(i["name"]), said)) for i in items if i not in excluded]
    named = _best_named(scored)
    if named and not (everything and not excluded and len(named) == len(items)):
        if len(named) > 1 and not everything:
            # "the red helmet" of two helmets: the options tell them apart. Only items of one
            # name are told apart so: "the bottle for the black one and the lamp" names both.
            kept = []
            for item in named:
                twins = [i for i in named if i["name"] == item["name"]]
                by_option = [i for i in twins if _option_words(i) & said]
                if len(twins) == 1 or not by_option or item in by_option:
                    kept.append(item)
            return kept
        return named
    if everything or excluded:
        return [i for i in items if i not in excluded]
    return []


_ONLY: Final = re.compile(r"\b(only|just|solo|solamente|seulement|uniquement)\b")
_LEAVE_OUT: Final = re.compile(
    r"\b(without|leave out|leave off|skip|drop|forget( about)?|remove|take out|minus|no need|"
    r"(don'?t|do not) (need|want|exchange|return|change|swap))\b"
)


def narrowed_items(text: str, items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]] | None:
    """The items a customer keeps in a write they were asked to confirm, when their answer narrows
    it: "only the desk lamp", "actually just the lamp", "leave out the water bottle". None when the
    answer names no strict part of ``items``, so it is read as a yes, a no or a new request."""
    if len(items) < 2:
        return None
    folded = fold(text).replace("\u2019", "'")
    named = named_items(text, items)
    if not named or len(named) == len(items):
        return None
    if _EXCEPT.search(folded) or _ONLY.search(folded):
        # "keep the boots", "only the lamp": what named_items found is what stays in the write.
        return list(named)
    if _LEAVE_OUT.search(folded):
        return [i for i in items if i not in named]
    return None


# ---------------------------------------------------------------------------------------- orders

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


_SHIPPED_TO: Final = re.compile(
    r"\b(sent|shipped|shipping|ship|going|goes|went|delivered|deliver|headed|address)\b"
)


_NUMBERS: Final[Mapping[str, int]] = {
    w: n
    for n, w in enumerate(
        ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"), 1
    )
}
_ITEM_COUNT: Final = re.compile(
    r"\b(?:with|of|has|had|holds?|contains?) (one|two|three|four|five|six|seven|eight|nine|ten|"
    r"\d{1,2}) (?:items|things|products)\b"
)


def _by_destination(folded: str, orders: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The orders shipped to the place the customer names ("the one sent to Texas", "my order
    going to Seattle"); empty when no place is named, or every order goes there."""
    if not _SHIPPED_TO.search(folded):
        return []
    states = {code for name, code in US_STATES.items() if re.search(rf"\b{name}\b", folded)}

    def goes_there(order: Mapping[str, Any]) -> bool:
        address = dict(order.get("address") or {})
        city = fold(str(address.get("city", "")))
        return str(address.get("state", "")).upper() in states or bool(
            city and re.search(rf"\b{re.escape(city)}\b", folded)
        )

    fitting = [o for o in orders if goes_there(o)]
    return fitting if len(fitting) < len(orders) else []


def orders_naming(text: str, orders: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The orders holding the items the customer names ("the grill", "my camera order"); empty
    when they name none."""
    # Items the customer leaves out ("keep the hiking items") do not point at their order.
    said = _said(_left_out(fold(text))[0])
    scores = [
        (o, max((_mentions(str(i["name"]), said) for i in o["items"]), default=0)) for o in orders
    ]
    best = _best_named(scores)
    # "the hose and the backpack": the order holding both, over one that holds only the hose.
    held = [
        {str(i["name"]) for i in _best_named([(i, _mentions(str(i["name"]), said)) for i in items])}
        for items in (o["items"] for o in best)
    ]
    whole = [o for o, names in zip(best, held, strict=True) if all(h <= names for h in held)]
    return whole if len(whole) == 1 and len(best) > 1 else best


def candidate_orders(
    text: str, orders: Sequence[Mapping[str, Any]], statuses: Collection[str] = ()
) -> list[Mapping[str, Any]]:
    """The customer's orders that fit what they said, most telling clue first: the items they
    name, where they were sent, how many items they hold, then status words ("the one that hasn't
    shipped"), then the ``statuses`` the request can act on (only pending orders can be
    cancelled). The whole list when nothing narrows it."""
    named = orders_naming(text, orders)
    if named:
        return named
    folded = fold(text)
    shipped_there = _by_destination(folded, orders)
    if shipped_there:
        return shipped_there
    if (count := _ITEM_COUNT.search(folded)) is not None:
        # "the pending order with five items": the orders holding that many.
        n = _NUMBERS.get(count.group(1)) or int(count.group(1))
        sized = [o for o in orders if len(o["items"]) == n]
        if 0 < len(sized) < len(orders):
            orders = sized
    for worded, pattern in _STATUS_WORDS:
        if pattern.search(folded):
            fitting = [o for o in orders if o["status"] in worded]
            if fitting:
                return fitting
    if statuses:
        fitting = [o for o in orders if o["status"] in statuses]
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


_NOT_THAT_ONE: Final = re.compile(
    r"\b((instead of|rather than)( paying with| using)?|not( to| on| with)?) (my |the |your )?"
    r"(credit |debit )?(card|pay ?pal|gift ?card|visa|mastercard|amex|account)\b"
)


def named_payment_methods(
    text: str, methods: Mapping[str, Mapping[str, Any]], original: str | None = None
) -> list[str]:
    """The ids of the customer's payment methods their words describe: "my Visa", "the card
    ending 7183", "my gift card", "PayPal", "the card I paid with" (``original``)."""
    # "on my credit card instead of PayPal": the method after "instead of" is the one left.
    folded = _NOT_THAT_ONE.sub(" ", fold(text))
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


# -------------------------------------------------------------------------------------- variants

Variant = Mapping[str, Any]

# The units in option values and in what customers say, each as (unit compared in, its factor).
_UNITS: Final[Mapping[str, tuple[str, float]]] = {
    **dict.fromkeys(("ml", "milliliter", "milliliters", "millilitre", "millilitres"), ("ml", 1.0)),
    **dict.fromkeys(("l", "liter", "liters", "litre", "litres"), ("ml", 1000.0)),
    "gb": ("gb", 1.0),
    "tb": ("gb", 1000.0),
    **dict.fromkeys(("ft", "foot", "feet"), ("ft", 1.0)),
    **dict.fromkeys(("inch", "inches", '"'), ("in", 1.0)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), ("h", 1.0)),
    **dict.fromkeys(("piece", "pieces", "pc", "pcs"), ("piece", 1.0)),
    **dict.fromkeys(("cup", "cups"), ("cup", 1.0)),
    **dict.fromkeys(("mp", "megapixel", "megapixels"), ("mp", 1.0)),
    # Video resolutions by width: 1080p is about 1920 pixels wide, 4K about 4000.
    "k": ("px", 1000.0),
    "p": ("px", 16 / 9),
    **dict.fromkeys(("w", "watt", "watts"), ("w", 1.0)),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), ("lb", 1.0)),
    **dict.fromkeys(("degree", "degrees"), ("deg", 1.0)),
    **{u: (u, 1.0) for u in ("x", "bar", "mm", "mah", "%")},
}
_UNIT_RE: Final = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUMBER: Final = r"\d+(?:\.\d+)?"
_QUANTITY: Final = re.compile(
    rf"(?<![\w#$.,])({_NUMBER})(?:\s*-?\s*({_UNIT_RE}))?(?![a-z0-9%\"])(?!\.\d)"
)
# A number followed by one of these counts things or money, not an option ("2 items").
_COUNTED: Final = re.compile(
    r"\s*(?:items?|units?|orders?|days?|weeks?|months?|years?|times|of\b|people|pairs?|sizes?|"
    r"steps?|levels?|dollars?|bucks|usd|more|fewer|less|extra)"
)
_NUMBER_WORDS: Final = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "twelve": "12",
}  # fmt: skip
_SPELLED: Final = re.compile(
    rf"\b({'|'.join(_NUMBER_WORDS)})(?=[\s-]*(?:pieces?|cups?|liters?|litres?|hours?|foot|feet|"
    r"inch|inches|sizes?|levels?|steps?)\b)"
)

# Ordered option values that are words: sizes, levels, difficulties.
_WORD_RANKS: Final[Mapping[str, float]] = {
    "xxs": 0, "xs": 1, "s": 2, "small": 2, "portable": 2, "compact": 2, "m": 3, "medium": 3,
    "l": 4, "large": 4, "xl": 5, "xxl": 6, "full size": 100,  # a keyboard after "60%", "80%"
    "low": 2, "high": 4, "beginner": 1, "intermediate": 2, "expert": 3, "basic": 1,
    "professional": 2,
}  # fmt: skip
# Letters that name a clothing size, and the words that say them.
_SIZE_CODES: Final[Mapping[str, str]] = {
    "xs": r"(?:extra|x)[\s-]*small",
    "s": r"small",
    "m": r"medium",
    "l": r"large",
    "xl": r"(?:extra|x)[\s-]*large",
    "xxl": r"(?:xx|2x|extra[\s-]*extra|double[\s-]*extra)[\s-]*large|2xl",
}
# Other words for option values: "plugged in" for "AC adapter", "soft" luggage for "softshell".
_VALUE_ALIASES: Final[Mapping[str, str]] = {
    "ac adapter": r"ac|plug(?:ged)?[\s-]*in|(?:wall[\s-]*)?(?:plug|outlet)|mains|corded",
    "battery": r"battery[\s-]*(?:powered|operated)",
    "aa batteries": r"aa|replaceable batter(?:y|ies)",
    "hardshell": r"hard(?:[\s-]*(?:shell|sided|case))?",
    "softshell": r"soft(?:[\s-]*(?:shell|sided|material))?",
    "full size": r"full[\s-]*sized?|100\s*%",
    "stainless steel": r"stainless|steel",
    "memory foam": r"foam",
    "wi-fi + cellular": r"cellular|lte",
    "google assistant": r"google(?:[\s-]*(?:home|nest))?",
    "apple homekit": r"apple|home[\s-]*kit",
    "amazon alexa": r"alexa|amazon",
    "usb-c": r"type[\s-]*c",
    "auto shutoff": r"auto(?:matic)?[\s-]*shut[\s-]*off",
    "built-in grinder": r"grinder",
    "hepa filter": r"hepa",
    "pet hair removal": r"pet[\s-]*hair",
    "quiet operation": r"quiet",
    "analog": r"analogue",
}
# Words spelled more than one way.
_SPELLINGS: Final = {"gray": "gr[ae]y", "grey": "gr[ae]y", "polarized": "polari[sz]ed"}
# Values that mean "without it", named by "no backlight", "not waterproof".
_NULL_VALUES: Final = frozenset({"none", "no", "not resistant"})
_NEGATIONS: Final = _vocabulary("not no non without except nor nothing")
# Words that may stand between a negation, a comparison or "same" and what it applies to.
_FILLERS: Final = _vocabulary(
    "a an the one ones in of with on to for it its my this that be get want like need any some",
    "slightly bit little just maybe please version variant model have has is are was kind",
    "would i id prefer rather go do",
)
# Words that may join the options kept: "same size and color", "the material stays the same".
_KEEP_GLUE: Final = _vocabulary(
    "and the same as before stays stay remains remain is be too also its my their original",
    "current exact of number amount count",
)
# Words that mark what follows as the item the customer has, not the one they want.
_CURRENT_CUES: Final = _vocabulary(
    "my mine current currently old original have had got bought ordered received purchased from",
    "this",
)
_CHANGE_VERBS: Final = _vocabulary("exchange change swap switch modify replace trade upgrade")
_PIVOTS: Final = _vocabulary("for to into instead")
# "don't care about the color", "any color", "the color doesn't matter": no wish for it.
_INDIFFERENT: Final = re.compile(
    r"\b(?:(?:do|does) not care(?: about| for)?|not picky(?: about)?|no preference(?: for| on)?|"
    r"(?:whatever|any) |(?:do|does) not matter|is not important|are not important|"
    r"(?:either|any) (?:is|are) fine)"
)
_INDIFFERENT_AFTER: Final = re.compile(r"\b(?:do|does) not matter|(?:is|are) not important")
# Other words for option names.
_KEY_SYNONYMS: Final[Mapping[str, str]] = {
    "colour": "color", "colors": "color", "colours": "color", "memory": "ram", "cpu": "processor",
    "chip": "processor", "difficult": "difficulty", "challenging": "difficulty",
    "compatible": "compatibility", "backlit": "backlight", "tall": "height", "long": "length",
    "bright": "brightness", "waterproofing": "waterproof",
}  # fmt: skip
# Option-name words too loose to name an option by themselves ("the makeup kit").
_KEY_STOP: Final = _vocabulary("kit set count range family settings")

# Comparisons over ordered options: (direction, the extreme?, the options it applies to when
# the customer names none: "bigger" is the size, or the capacity of a bottle).
_SIZES: Final = (
    "size", "frame size", "screen size", "capacity", "room size", "diameter", "kit size",
    "piece count", "pieces", "length", "height", "weight range",
)  # fmt: skip
_LONG: Final = ("length", "battery life", "height")
_COMPARISONS: Final[Mapping[str, tuple[int, bool, tuple[str, ...]]]] = {
    **dict.fromkeys(("bigger", "larger", "roomier"), (1, False, _SIZES)),
    "smaller": (-1, False, _SIZES),
    **dict.fromkeys(("biggest", "largest"), (1, True, _SIZES)),
    "smallest": (-1, True, _SIZES),
    "brighter": (1, False, ("brightness",)),
    "dimmer": (-1, False, ("brightness",)),
    "brightest": (1, True, ("brightness",)),
    "dimmest": (-1, True, ("brightness",)),
    "longer": (1, False, _LONG),
    "shorter": (-1, False, _LONG),
    "longest": (1, True, _LONG),
    "shortest": (-1, True, _LONG),
    "taller": (1, False, ("height",)),
    "tallest": (1, True, ("height",)),
    **dict.fromkeys(("easier", "simpler"), (-1, False, ("difficulty level",))),
    **dict.fromkeys(("easiest", "simplest"), (-1, True, ("difficulty level",))),
    "harder": (1, False, ("difficulty level",)),
    "hardest": (1, True, ("difficulty level",)),
    "thicker": (1, False, ("thickness",)),
    "thinner": (-1, False, ("thickness",)),
    "thickest": (1, True, ("thickness",)),
    "thinnest": (-1, True, ("thickness",)),
    "heavier": (1, False, ("weight range",)),
    "lighter": (-1, False, ("weight range",)),
    "faster": (1, False, ("processor", "speed settings")),
    "sharper": (1, False, ("resolution",)),
    "wider": (1, False, ("field of view", "diameter")),
    # These need the option named beside them: "more storage", "lower resolution".
    **dict.fromkeys(("higher", "more", "greater", "up", "increase"), (1, False, ())),
    **dict.fromkeys(("lower", "less", "fewer", "down", "reduce"), (-1, False, ())),
    **dict.fromkeys(("highest", "most", "max", "maximum", "maximal"), (1, True, ())),
    **dict.fromkeys(("lowest", "least", "fewest", "min", "minimum", "minimal"), (-1, True, ())),
}
# "too small": the next one up; "too bright": the next one down.
_TOO: Final[Mapping[str, tuple[int, tuple[str, ...]]]] = {
    **dict.fromkeys(("small", "tight", "little"), (1, _SIZES)),
    **dict.fromkeys(("big", "large", "loose", "baggy"), (-1, _SIZES)),
    "short": (1, ("length", "height")),
    "long": (-1, ("length", "height")),
    "dim": (1, ("brightness",)),
    "bright": (-1, ("brightness",)),
    "hard": (-1, ("difficulty level",)),
    "easy": (1, ("difficulty level",)),
    "heavy": (-1, ("weight range",)),
}

# Price limits: "under $50", "less than 200 bucks", "if it costs less than 50".
_AMOUNT: Final = r"\d[\d,]*(?:\.\d+)?"
_COMPARATOR: Final = (
    r"(?:(?P<lt>less than|under|below|cheaper than|lower than)|"
    r"(?P<le>at most|no more than|not more than|max(?:imum)?(?: of)?|up to|within)|"
    r"(?P<gt>more than|over|above|greater than|higher than|pricier than|more expensive than)|"
    r"(?P<ge>at least|min(?:imum)?(?: of)?))"
)
_PRICE_LIMITS: Final = (
    re.compile(
        rf"\b{_COMPARATOR}\s*(?:\$\s*(?P<n>{_AMOUNT})|(?P<m>{_AMOUNT})\s*(?:dollars?|bucks|usd)\b)"
    ),
    re.compile(
        rf"\b(?:costs?|costing|priced?|prices?|pay|paying|spend|spending|budget)\b(?: is| of)?"
        rf"\s*{_COMPARATOR}\s*\$?\s*(?P<n>{_AMOUNT})(?:\s*(?:dollars?|bucks|usd)\b)?"
    ),
    re.compile(
        rf"(?:\$\s*(?P<n>{_AMOUNT})|(?P<m>{_AMOUNT})\s*(?:dollars?|bucks|usd))\s*or\s*"
        r"(?:(?P<le>less|under|below|cheaper|lower)|(?P<ge>more|over|above|higher))\b"
    ),
)
_OPERATORS: Final = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_EXTRA_AFTER: Final = re.compile(r"\s*(?:extra|more|additional|on top|in difference)\b")
_EXTRA_BEFORE: Final = re.compile(r"\b(?:difference|extra|additional)\b[^$\d]*$")
# Prices compared with what the customer paid (the amount -1 stands for it).
_PRICE_TO_CURRENT: Final = (
    (
        "<=",
        re.compile(
            r"\b(?:same price or (?:less|lower|cheaper)|same or (?:lower|less|cheaper)(?: price)?|"
            r"(?:not|no) (?:be )?more expensive|(?:no|not) more than (?:what )?i (?:paid|spent)|"
            r"at most what i paid|(?:for|with(?:in)?|at) (?:the|my) (?:same|previous|original)"
            r"(?: purchased?)? price|does ?not cost more|for the same price)\b"
        ),
    ),
    (
        "<",
        re.compile(
            r"\b(?:cheaper|less expensive|lower[\s-]*priced?|lower (?:in )?price|more affordable|"
            r"costs? less|save (?:some )?money|mas barat[oa]s?|moins cher)\b"
        ),
    ),
    (">", re.compile(r"\b(?:more expensive|pricier|higher[\s-]*(?:end|priced?)|costs? more)\b")),
)
_PRICE_EXTREMES: Final = (
    (
        -1,
        re.compile(
            r"\b(?:cheapest|least expensive|lowest[\s-]*priced?|most affordable|lowest cost|"
            r"(?:el|la|le) (?:mas barat[oa]|moins cher))\b"
        ),
    ),
    (1, re.compile(r"\b(?:most expensive|priciest|highest[\s-]*priced?|top of the line)\b")),
)
# "1000 more pieces", "500 pieces less".
_DELTA: Final = re.compile(
    rf"(?<![\w#$.])(?P<n>{_NUMBER})\s*-?\s*(?P<unit>[a-z]+)?\s+(?P<sign>more|extra|additional|"
    r"fewer|less)\b(?:\s+(?P<word>[a-z]+))?"
)
# "same material", "keep the leather strap", "still battery powered", "mismo color".
_KEEP: Final = re.compile(
    r"\b(?:same|keep|keeping|still|retain|retaining|unchanged|(?:do not|without) chang(?:e|ing)|"
    r"mismo|misma|mismos|mismas|meme)\b"
)
# "the same one but in red", "everything else the same": every option not asked about stays.
_KEEP_REST: Final = re.compile(
    r"\b(?:(?:exact(?:ly)? )?(?:the )?same (?:one|item|thing|model|product|kind|exact item)s?"
    r"(?: \w+){0,2} (?:but|except|only|with|in)|everything else (?:the )?same|"
    r"exact(?:ly)? (?:the )?same(?: \w+){1,3} (?:but|except)|"
    r"(?:all )?(?:the )?other (?:options|specs|specifications|features|attributes|things|details)"
    r"(?: \w+){0,4} (?:the )?same|without changing (?:the |any )?other|otherwise (?:the )?same|"
    r"same otherwise|keep (?:everything|all) else|nothing else chang)"
)
_TOKEN: Final = re.compile(r"[a-z0-9]+(?:\.\d+)?|[.,;:!?()]")
_AT_LEAST: Final = re.compile(r"(?:at least|minimum(?: of)?)\s*$")
_AT_MOST: Final = re.compile(r"(?:at most|up to|no more than|maximum(?: of)?)\s*$")
# "i7 or above", "16GB RAM or more".
_OR_MORE: Final = re.compile(
    r"\s*(?:[a-z]+\s+)?(?:or|and)\s+(?:above|higher|up|better|more|bigger|larger|greater|newer)\b"
)
_OR_LESS: Final = re.compile(
    r"\s*(?:[a-z]+\s+)?(?:or|and)\s+(?:below|lower|less|smaller|fewer|under|down)\b"
)


@dataclass(frozen=True)
class _Step:
    """A comparison over one ordered option: the next value up (``direction`` 1) or down, the
    ``count``-th ("two sizes up"), or the extreme one ("the biggest")."""

    option: str
    direction: int
    extreme: bool = False
    count: int = 1


@dataclass(frozen=True)
class VariantWish:
    """What the customer asked of the variant they want in place of ``current``."""

    current: Mapping[str, Any]
    allowed: Mapping[str, frozenset[str]]  # option -> the values wanted (any of them)
    either: tuple[frozenset[tuple[str, str]], ...]  # a word naming values of several options
    excluded: Mapping[str, frozenset[str]]
    kept: frozenset[str]  # options that keep the current item's value
    keep_rest: bool  # "the same one but ...": every option not asked about stays
    bounds: tuple[tuple[str, str, float], ...]  # (option, "<=" or ">=", rank): "i7 or above"
    prices: tuple[tuple[str, float], ...]  # ("<", 50.0): "under $50"; -1.0: what was paid
    steps: tuple[_Step, ...]
    price_extreme: int  # -1: the cheapest, 1: the most expensive
    extras: tuple[tuple[str, float], ...] = ()
    """Limits on what it costs beyond what was paid: ("<=", 20.0) for "no more than $20 extra"."""

    @property
    def stated(self) -> bool:
        """Whether the customer said anything of the variant they want."""
        return bool(
            self.allowed or self.either or self.excluded or self.kept or self.bounds
            or self.prices or self.steps or self.price_extreme or self.extras
        )  # fmt: skip

    def fits(self, variants: Sequence[Variant]) -> list[Variant]:
        """The available variants that fit, best first: those keeping more of the current item's
        other options, then the cheaper. Never the current item; empty when nothing was said."""
        if not self.stated:
            return []
        current = _lower_options(self.current)
        fixed = {k: frozenset({current[k]}) for k in self.kept if k in current}
        for key, values in self.allowed.items():
            fixed[key] = fixed[key] & values if key in fixed else values
        if self.keep_rest:
            touched = {*fixed, *self.excluded, *(s.option for s in self.steps)}
            touched |= {k for pairs in self.either for k, _ in pairs} | {b[0] for b in self.bounds}
            fixed.update({k: frozenset({v}) for k, v in current.items() if k not in touched})
        paid = _price(self.current)
        found = []
        for variant in variants:
            options = _lower_options(variant)
            if variant.get("item_id") == self.current.get("item_id") or options == current:
                continue
            if not variant.get("available") or variant.get("stock") == 0:
                continue
            if any(options.get(k) not in values for k, values in fixed.items()):
                continue
            if any(options.get(k) in values for k, values in self.excluded.items()):
                continue
            if not all(any(options.get(k) == v for k, v in pairs) for pairs in self.either):
                continue
            if not all(_within(_rank(options.get(k, "")), op, r) for k, op, r in self.bounds):
                continue
            prices = [(op, paid if amount < 0 else amount) for op, amount in self.prices]
            if not all(_within(_price(variant), op, amount) for op, amount in prices):
                continue
            if not all(_within(_price(variant) - paid, op, amount) for op, amount in self.extras):
                continue
            found.append(variant)
        for step in self.steps:
            found = _stepped(found, step, current.get(step.option))
        if self.price_extreme and found:
            best = min(self.price_extreme * -_price(v) for v in found)
            found = [v for v in found if self.price_extreme * -_price(v) == best]

        def kept(variant: Variant) -> int:
            return sum(1 for k, v in _lower_options(variant).items() if current.get(k) == v)

        return sorted(found, key=lambda v: (-kept(v), _price(v)))


def _lower_options(thing: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v).lower() for k, v in dict(thing.get("options", {})).items()}


def _price(thing: Mapping[str, Any]) -> float:
    try:
        return float(thing.get("price", 0.0))
    except (TypeError, ValueError):
        return 0.0


def _within(value: float | None, op: str, limit: float) -> bool:
    if value is None:
        return False
    if op == "<":
        return value < limit - 1e-9
    if op == "<=":
        return value <= limit + 1e-9
    if op == ">":
        return value > limit + 1e-9
    return value >= limit - 1e-9


def _quantity(text: str, option: str = "") -> tuple[float, str | None] | None:
    """``"1.5L"`` -> ``(1500.0, "ml")``, ``"9"`` -> ``(9.0, None)``; a bare number takes the unit
    its option's name gives (pieces: ``"1000"`` is 1000 pieces). None where no number leads."""
    m = _QUANTITY.match(fold(text).strip())
    if not m:
        return None
    unit, factor = _UNITS.get(m.group(2) or _singular(option.lower()), (None, 1.0))
    return float(m.group(1)) * factor, unit


def _rank(value: str) -> float | None:
    """Where a value stands among its option's values: sizes S < M < L, levels low < high,
    amounts by amount ("500ml" < "1L"), processors i5 < i7, paper A5 < A4. None for values with no
    order (colors, materials)."""
    folded = fold(value).strip()
    if folded in _WORD_RANKS:
        return float(_WORD_RANKS[folded])
    if (q := _quantity(folded)) is not None:
        return q[0]
    if m := re.fullmatch(r"(?:i|ipx)(\d+)", folded):
        return float(m.group(1))
    if m := re.fullmatch(r"a(\d)", folded):
        return -float(m.group(1))
    return None


def _stepped(found: list[Variant], step: _Step, current: str | None) -> list[Variant]:
    """The variants a ``step`` away from the current value: at the next value in its direction
    that one of them has (the ``count``-th: "two sizes up"), or at the extreme one."""
    ranked = [(_rank(_lower_options(v).get(step.option, "")), v) for v in found]
    here = _rank(current) if current is not None else None
    levels = sorted(
        {r * step.direction for r, _ in ranked if r is not None},
        reverse=step.extreme,
    )
    if not step.extreme:
        if here is None:
            return found
        levels = [r for r in levels if r > here * step.direction]
    if len(levels) < (1 if step.extreme else step.count):
        return []
    level = levels[0] if step.extreme else levels[step.count - 1]
    return [v for r, v in ranked if r is not None and r * step.direction == level]


def _word_like(said: str, name: str) -> bool:
    """Whether a word said is a form of an option-name word: "sized" of "size", "bright" of
    "brightness", "resistant" of "resistance"."""
    if said == name:
        return True
    if min(len(said), len(name)) >= 4 and (said.startswith(name) or name.startswith(said)):
        return True
    common = len(os.path.commonprefix([said, name]))
    return common >= 6 and len(said) - common <= 3 and len(name) - common <= 3


def _options_named_by(word: str, keys: Sequence[str]) -> set[str]:
    """The options a word names: the option of that very name, else those with it among the
    words of their names ("frame": frame size, frame color and frame material)."""
    word = _KEY_SYNONYMS.get(word, word)
    if word in _FILLERS or len(word) < 3 or word.isdigit():
        return set()
    exact = {k for k in keys if k.lower() == word or _singular(k.lower()) == _singular(word)}
    if exact:
        return exact
    return {
        k
        for k in keys
        if any(_word_like(word, w) for w in re.findall(r"[a-z]+", k.lower()) if w not in _KEY_STOP)
    }


def _value_pattern(value: str, values: Sequence[str]) -> re.Pattern[str] | None:
    """A pattern for the words that name ``value`` among its option's ``values``; None for a
    number (read as a quantity) or a value that means "without" ("none", "no")."""
    folded = fold(value)
    words = re.findall(r"[a-z0-9]+", folded)
    if not words or folded in _NULL_VALUES or _quantity(folded) is not None:
        return None
    if folded in _SIZE_CODES:
        # "S", "M", "L": a letter alone names a size only after "size" (capitals are read so).
        body = rf"(?<=size ){folded}|{folded}(?= size)" if len(folded) == 1 else folded
        if not {fold(v) for v in values} & {"small", "medium", "large"}:
            body = f"{body}|{_SIZE_CODES[folded]}"
    else:
        parts = [_SPELLINGS.get(w, re.escape(w)) for w in words]
        # A plural says the value too: "batteries", "leathers".
        last = words[-1]
        if re.fullmatch(r"[a-z]+[^aeiou]y", last):
            parts[-1] = f"{last[:-1]}(?:y|ies)"
        elif last.isalpha():
            parts[-1] = f"{parts[-1]}(?:e?s)?"
        body = r"[\s+/&-]*".join(parts)
        if folded in _VALUE_ALIASES:
            body = f"{body}|{_VALUE_ALIASES[folded]}"
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")


@dataclass
class _Reading:
    """The customer's words as tokens, the options each token names, and the option values named
    (by token span)."""

    tokens: list[str]
    starts: list[int]
    keys: list[set[str]]
    # Per value named: its first token, the token after it, where its words end, and the (option,
    # value) pairs the words may mean.
    values: list[tuple[int, int, int, frozenset[tuple[str, str]]]]

    def token_at(self, char: int) -> int:
        return next((i for i, s in enumerate(self.starts) if s >= char), len(self.starts))

    def option_near(self, i: int, end: int | None = None) -> tuple[set[str], set[int]]:
        """The option named just after tokens ``i`` to ``end`` ("more storage", "larger frame
        size"), else just before ("one size smaller"), with the tokens naming it."""
        end = i + 1 if end is None else end
        for j in range(end, min(len(self.tokens), end + 3)):
            if self.keys[j]:
                both = self.keys[j] & self.keys[j + 1] if j + 1 < len(self.keys) else set()
                return (both, {j, j + 1}) if both else (self.keys[j], {j})
            if self.tokens[j] not in _FILLERS:
                break
        for j in range(i - 1, max(-1, i - 3), -1):
            if self.keys[j]:
                both = self.keys[j] & self.keys[j - 1] if j > 0 else set()
                return (both, {j, j - 1}) if both else (self.keys[j], {j})
            if self.tokens[j] not in _FILLERS and not self.tokens[j].isdigit():
                break
        return set(), set()

    def clause(self, at: int, direction: int, *, values: bool = True) -> list[int]:
        """The tokens naming options (and values, with ``values``) just after token ``at`` (or
        before it, ``direction`` -1): "same [size] and [color]", "[size] the same"."""
        found = []
        j = at + direction
        while 0 <= j < len(self.tokens) and abs(j - at) <= 6:
            if self.keys[j] or (values and self.value_at(j) is not None):
                found.append(j)
            elif self.tokens[j] not in _FILLERS and self.tokens[j] not in _KEEP_GLUE:
                break
            j += direction
        return found

    def describes_current(self, i: int) -> bool:
        """Whether the words at token ``i`` describe the item the customer has: "my red helmet",
        "the one I got in red", "exchange the red helmet for ..."."""
        for j in range(i - 1, max(-1, i - 5), -1):
            if self.tokens[j] in _CURRENT_CUES:
                return True
            if not self.tokens[j][0].isalnum():
                break
        verb = any(t in _CHANGE_VERBS for t in self.tokens[:i])
        pivot_before = any(t in _PIVOTS for t in self.tokens[:i])
        return verb and not pivot_before and any(t in _PIVOTS for t in self.tokens[i + 1 :])

    def negated(self, i: int) -> bool:
        """Whether a negation stands shortly before token ``i`` ("not the red one", "no
        backlight", "non-polarized")."""
        for j in range(i - 1, max(-1, i - 4), -1):
            if self.tokens[j] in _NEGATIONS:
                return True
            if self.tokens[j] not in _FILLERS:
                return False
        return False

    def value_at(self, i: int) -> int | None:
        return next((n for n, (s, e, _, _) in enumerate(self.values) if s <= i < e), None)


def _read(text: str, options: Mapping[str, Sequence[str]]) -> _Reading:
    """Read the option names and values in ``text`` (folded), among a product's ``options``."""
    keys = list(options)
    found: list[tuple[int, int, str, str]] = []
    for key, values in options.items():
        for value in values:
            if (pattern := _value_pattern(value, values)) is not None:
                found += [(m.start(), m.end(), key, value) for m in pattern.finditer(text)]
    quantities = {
        (key, value): q for key, values in options.items() for value in values
        if (q := _quantity(value, key)) is not None
    }  # fmt: skip
    for m in _QUANTITY.finditer(text):
        if m.group(2) is None and _COUNTED.match(text, m.end()):
            continue
        said = _quantity(m.group(0))
        for (key, value), (amount, unit) in quantities.items():
            if said and abs(said[0] - amount) < 1e-9 and said[1] in (None, unit):
                found.append((m.start(), m.end(), key, value))
    # A value inside a longer one is that one: "gold" of "rose gold", "polarized" of "non-".
    found = [
        f for f in found
        if not any(o[0] <= f[0] and f[1] <= o[1] and o[1] - o[0] > f[1] - f[0] for o in found)
    ]  # fmt: skip
    matches = list(_TOKEN.finditer(text))
    tokens = [m.group(0) for m in matches]
    reading = _Reading(
        tokens, [m.start() for m in matches], [_options_named_by(t, keys) for t in tokens], []
    )
    spans: dict[tuple[int, int], set[tuple[str, str]]] = {}
    for start, end, key, value in found:
        spans.setdefault((start, end), set()).add((key, value))
    for (start, end), pairs in sorted(spans.items()):
        first, last = reading.token_at(start), reading.token_at(end)
        reading.values.append((first, max(last, first + 1), end, frozenset(pairs)))
    return reading


def read_variant_wish(
    text: str, current: Mapping[str, Any], variants: Sequence[Variant]
) -> VariantWish:
    """What the customer asks of the variant they want in place of ``current`` (an order item or
    a variant) among one product's ``variants``: option values named exactly or loosely ("silver",
    "low brightness", "the 1000-piece version", "size 9", "battery powered"), options kept ("same
    material", "still battery powered", "keep the leather strap"), comparisons over ordered
    options ("a bigger one", "less bright", "more storage", "one size smaller", "the easiest",
    "1000 more pieces", "i7 or above") and over the price ("cheaper", "the cheapest", "if it costs
    less than $50"). A value the current item already has is wanted too ("red, but smaller"),
    except where the words describe the item the customer has ("my red helmet", "exchange the red
    helmet for a blue one") or a comparison changes it ("my 500ml bottle, a bigger one")."""
    options: dict[str, list[str]] = {}
    for variant in [current, *variants]:
        for k, v in dict(variant.get("options", {})).items():
            if str(v) not in options.setdefault(str(k), []):
                options[str(k)].append(str(v))
    current_options = _lower_options(current)
    # Capital size letters ("an M", "XL") are read before case goes: "I'M" is no size.
    cased = re.sub(r"(?<![\w'’])([SML])(?![\w'’])", r"size \1", unicodedata.normalize("NFKD", text))
    said = "".join(c for c in cased if not unicodedata.combining(c)).lower()
    said = re.sub(r"n[’']t\b", " not", said.replace("’", "'"))
    said = re.sub(r"(\d),(\d{3})\b", r"\1\2", said)
    said = _SPELLED.sub(lambda m: _NUMBER_WORDS[m.group(1)], said)

    def take(pattern: re.Pattern[str]) -> list[re.Match[str]]:
        """The pattern's matches, blanked out so nothing else reads them."""
        nonlocal said
        found = list(pattern.finditer(said))
        for m in found:
            said = said[: m.start()] + " " * (m.end() - m.start()) + said[m.end() :]
        return found

    # Prices first, so that their numbers, "more" and "less" are not read as options.
    prices: list[tuple[str, float]] = []
    extras: list[tuple[str, float]] = []
    for pattern in _PRICE_LIMITS:
        before = said
        for m in take(pattern):
            op = next(_OPERATORS[g] for g in _OPERATORS if m.groupdict().get(g))
            amount = m.group("n") or m.groupdict().get("m") or "0"
            # "no more than $20 extra", "if the difference is under $20": beyond what was paid.
            relative = _EXTRA_AFTER.match(before, m.end()) or _EXTRA_BEFORE.search(
                before, max(0, m.start() - 30), m.start()
            )
            (extras if relative else prices).append((op, float(amount.replace(",", ""))))
    price_extreme = next((d for d, pattern in _PRICE_EXTREMES if take(pattern)), 0)
    for op, pattern in _PRICE_TO_CURRENT:
        prices += [(op, -1.0) for _ in take(pattern)]

    allowed: dict[str, set[str]] = {}
    hard: set[str] = set()  # options whose named values hold even where the current item has them
    for m in list(_DELTA.finditer(said)):
        words = [w for w in (m.group("unit"), m.group("word")) if w]
        unit = next((_UNITS[w] for w in words if w in _UNITS), None)
        named = {k for w in words for k in _options_named_by(w, list(options))}
        named |= {
            k for k, vs in options.items()
            if unit and any((q := _quantity(v, k)) and q[1] == unit[0] for v in vs)
        }  # fmt: skip
        key = next((k for k in options if k in named and k in current_options), None)
        here = _quantity(current_options.get(key or "", ""), key or "")
        if key is None or here is None:
            continue
        sign = -1 if m.group("sign") in ("fewer", "less") else 1
        target = here[0] + sign * float(m.group("n")) * (unit[1] if unit else 1.0)
        allowed[key] = {v for v in options[key] if (q := _quantity(v, key)) and q[0] == target}
        hard.add(key)
        said = said[: m.start()] + " " * (m.end() - m.start()) + said[m.end() :]

    reading = _read(said, options)
    tokens = reading.tokens
    used: set[int] = set()  # tokens already read as a keep, comparison or bound
    kept: set[str] = set()

    # "don't care about waterproof", "any color", "the color doesn't matter": no wish for it.
    for m in _INDIFFERENT.finditer(said):
        used |= set(reading.clause(reading.token_at(m.end()) - 1, 1, values=False))
    for m in _INDIFFERENT_AFTER.finditer(said):
        used |= set(reading.clause(reading.token_at(m.start()), -1, values=False))

    # "same material and color", "still battery powered", "keep the size the same".
    for m in _KEEP.finditer(said):
        at = reading.token_at(m.start())
        clause = reading.clause(at, 1) or reading.clause(at, -1)
        for j in clause:
            if j in used:
                continue
            used.add(j)
            if (n := reading.value_at(j)) is not None:
                pairs = reading.values[n][3]
                for key, value in pairs:
                    if len({k for k, _ in pairs}) == 1:
                        allowed.setdefault(key, set()).add(value)
                        hard.add(key)
            else:
                near = reading.keys[j]
                both = near & reading.keys[j + 1] if j + 1 < len(tokens) else set()
                kept |= both or near

    # Comparisons: "bigger", "less bright", "more storage", "one size smaller", "too small".
    steps: list[_Step] = []
    ordered = {k for k, vs in options.items() if sum(_rank(v) is not None for v in vs) >= 2}
    for i, word in enumerate(tokens):
        if word in _COMPARISONS:
            direction, extreme, defaults = _COMPARISONS[word]
        elif word in _TOO and i > 0 and tokens[i - 1] == "too":
            direction, defaults = _TOO[word]
            extreme = False
        else:
            continue
        near, naming = reading.option_near(i)
        if near:
            choices = [k for k in options if k in near and k in ordered]
        else:
            choices = [k for k in defaults if k in ordered]
        if not extreme:
            choices = [k for k in choices if _rank(current_options.get(k, "")) is not None]
        if not choices:
            continue
        count = 1
        back = [t for t in tokens[max(0, i - 3) : i] if t not in ("size", "sizes", "a")]
        if back and back[-1].isdigit() and not extreme:
            count = max(1, int(back[-1]))
        steps.append(_Step(choices[0], direction, extreme, count))
        used |= {i, *naming}

    # Values named: wanted, unwanted ("not red"), or bounds ("i7 or above").
    excluded: dict[str, set[str]] = {}
    named_at: dict[str, list[int]] = {}
    bounds: list[tuple[str, str, float]] = []
    either: list[set[tuple[str, str]]] = []
    for start, end, char_end, pairs in reading.values:
        if start in used:
            continue
        after, before = said[char_end:], said[: reading.starts[start]]
        keys_named = {k for k, _ in pairs}
        if len(keys_named) > 1:
            # "medium" of a helmet's size and ventilation: the option named beside it decides.
            near = reading.option_near(start, end)[0] & keys_named
            pairs = frozenset(p for p in pairs if p[0] in near) if near else pairs
        if reading.negated(start):
            for key, value in pairs:
                excluded.setdefault(key, set()).add(value)
            continue
        bound = ">=" if _OR_MORE.match(after) or _AT_LEAST.search(before) else None
        bound = "<=" if _OR_LESS.match(after) or _AT_MOST.search(before) else bound
        if bound and len(pairs) == 1:
            [(key, value)] = pairs
            if (rank := _rank(value)) is not None:
                bounds.append((key, bound, rank))
                continue
        if len({k for k, _ in pairs}) == 1:
            for key, value in pairs:
                allowed.setdefault(key, set()).add(value)
                named_at.setdefault(key, []).append(start)
        else:
            either.append(set(pairs))

    # Options named without a value: "not waterproof", "no backlight", "a waterproof one".
    for i, near in enumerate(reading.keys):
        if not near or i in used or reading.value_at(i) is not None:
            continue
        if i > 0 and reading.keys[i - 1] & near:
            continue  # the second word of "water resistance"
        for key in near:
            values = options[key]
            nulls = {v for v in values if fold(v) in _NULL_VALUES}
            if reading.negated(i) and nulls:
                allowed[key] = nulls
                hard.add(key)
            elif "yes" in {fold(v) for v in values} and key not in allowed:
                allowed[key] = set(values) - nulls
                hard.add(key)

    # A value the current item has is wanted unless another value of its option is ("the silicone
    # watch to a metal one"), a comparison changes it ("my 500ml bottle, a bigger one") or the words
    # describe the item the customer has ("my red helmet").
    stepped = {s.option for s in steps}
    for key in list(allowed):
        has = current_options.get(key)
        if key in hard or has is None:
            continue
        others = {v for v in allowed[key] if v.lower() != has}
        if others:
            allowed[key] = others
        elif key in stepped or all(reading.describes_current(i) for i in named_at.get(key, [])):
            del allowed[key]
    fixed = set(allowed) | kept
    groups = []
    for group in either:
        open_pairs = {
            (k, v) for k, v in group
            if k not in fixed and current_options.get(k) != v.lower()
        }  # fmt: skip
        if len({k for k, _ in open_pairs}) == 1:
            for key, value in open_pairs:
                allowed.setdefault(key, set()).add(value)
        elif open_pairs:
            groups.append(frozenset(open_pairs))

    return VariantWish(
        current=current,
        allowed={k: frozenset(v.lower() for v in vs) for k, vs in allowed.items()},
        either=tuple(frozenset((k, v.lower()) for k, v in g) for g in groups),
        excluded={k: frozenset(v.lower() for v in vs) for k, vs in excluded.items()},
        kept=frozenset(kept - set(allowed)),
        keep_rest=bool(_KEEP_REST.search(said)),
        bounds=tuple(bounds),
        prices=tuple(prices),
        steps=tuple(steps),
        price_extreme=price_extreme,
        extras=tuple(extras),
    )


def wanted_variants(
    text: str, current: Mapping[str, Any], variants: Sequence[Variant]
) -> list[Variant]:
    """The product's available variants that fit what the customer says of the one they want in
    place of ``current`` (see ``read_variant_wish``), best first; never ``current`` itself. One:
    that is the variant. Several: ask once, with their prices. None: say which options exist
    (``available_options``); nothing understood also gives none, which
    ``read_variant_wish(...).stated`` tells apart."""
    return read_variant_wish(text, current, variants).fits(variants)


def available_options(variants: Sequence[Variant]) -> dict[str, list[str]]:
    """The values each option has among the available variants, for "we have it in ...": the
    answer when no variant fits."""
    found: dict[str, list[str]] = {}
    for variant in variants:
        if variant.get("available") and variant.get("stock") != 0:
            for k, v in dict(variant.get("options", {})).items():
                if str(v) not in found.setdefault(str(k), []):
                    found[str(k)].append(str(v))
    return {
        k: sorted(vs, key=lambda v: (_rank(v) is None, _rank(v) or 0.0, v))
        for k, vs in found.items()
    }
