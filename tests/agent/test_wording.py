"""Customer-facing words for shop data: statuses, options, products and amounts in English, Spanish and
French, checked against every status, option and product of the tau2 shop and the demo shop."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from agent.understanding import describe_options
from agent.wording import (
    NBSP,
    money,
    name_words,
    names_list,
    option_words,
    options_words,
    product_words,
    products_named_in,
    refund_status_words,
    status_words,
    value_words,
)
from tests.conftest import tau2_db_path
from tools.demo import generate_demo_shop
from tools.models import OrderStatus

LANGS = ("es", "fr")


@functools.cache
def _db() -> dict[str, Any]:
    with tau2_db_path().open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _tau2_options() -> list[dict[str, str]]:
    return [v["options"] for p in _db()["products"].values() for v in p["variants"].values()]


@functools.cache
def _demo_options() -> list[dict[str, str]]:
    return [dict(v.options) for p in generate_demo_shop(customers=0).products for v in p.variants]


def _pairs(options: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted({(k, v) for o in options for k, v in o.items()})


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


# --------------------------------------------------------------------------------------- statuses


def test_every_status_has_a_distinct_wording_in_each_language() -> None:
    statuses = {o["status"] for o in _db()["orders"].values()} | {s.value for s in OrderStatus}
    assert {"pending", "processed", "delivered", "cancelled"} <= statuses
    for lang in LANGS:
        words = {s: status_words(s, lang) for s in statuses}
        assert len(set(words.values())) == len(statuses), words
        for status, text in words.items():
            assert not _same(text, status) and not _same(text, status_words(status, "en")), text
    english = {s: status_words(s, "en") for s in statuses}
    assert len(set(english.values())) == len(statuses)


def test_refund_statuses_are_not_read_as_order_statuses() -> None:
    assert refund_status_words("pending", "en") == "in progress"
    assert refund_status_words("pending", "es") == "en curso"
    assert refund_status_words("completed", "fr") == "effectué"
    assert refund_status_words("awaiting return", "es") == "a la espera de los artículos devueltos"
    assert refund_status_words("on_hold", "fr") == "on hold"


# ---------------------------------------------------------------------------------- option names

# Option names spelled the same in that language (compared without case: "ram" -> "RAM").
SAME_NAMES: dict[str, frozenset[str]] = {
    "es": frozenset({"color", "material", "ram", "RAM", "zoom"}),
    "fr": frozenset({"ram", "RAM", "style", "type", "ventilation", "zoom"}),
}


def test_every_option_name_of_both_shops_is_translated() -> None:
    names = {k for o in [*_tau2_options(), *_demo_options()] for k in o}
    assert len({k for o in _tau2_options() for k in o}) == 68
    for lang in LANGS:
        same = {n for n in names if _same(name_words(n, lang), n)}
        assert same == SAME_NAMES[lang] & names, sorted(same ^ (SAME_NAMES[lang] & names))


# --------------------------------------------------------------------------------- option values

# Values kept as the shop writes them in every language: acronyms, standards, brands, model names,
# letter sizes and fabric trade names. Anything with a digit (1000ml, 128GB, 6 ft) is kept too.
KEPT_VALUES = frozenset(
    {
        "RGB", "AMOLED", "LCD", "HEPA", "PVC", "TPE", "EVA", "USB", "USB-A", "USB-C", "Bluetooth",
        "Ethernet", "Wi-Fi", "Amazon Alexa", "Apple HomeKit", "Google Assistant", "Brand A",
        "Brand B", "Brand C", "softshell", "sunbrella", "XS", "S", "M", "L", "XL", "XXL", "M/L",
        "S/M", "pro", "mini", "queen", "king",
    }
)  # fmt: skip
# Values spelled the same in that language.
SAME_VALUES: dict[str, frozenset[str]] = {
    "es": frozenset(
        {"beige", "color", "digital", "gas", "manual", "metal", "natural", "no", "oriental", "unisex"}
    ),
    "fr": frozenset(
        {
            "art", "beige", "butane", "double", "expert", "induction", "laser", "latex", "long",
            "nylon", "orange", "oriental", "polyester", "portable", "propane", "rechargeable",
            "silicone", "standard", "tactile",
        }
    ),
}  # fmt: skip
# Spelled-out English words that follow a number ("10 hours", "2-piece", "75W equivalent").
_SPELLED = re.compile(
    r"\b(hours?|cups?|liters?|inch|inches|degrees|piece|person|season|bulbs?|lumens|equivalent)\b"
)


@pytest.mark.parametrize("shop", ["tau2", "demo"])
def test_every_word_value_of_both_shops_is_translated(shop: str) -> None:
    pairs = _pairs(_tau2_options() if shop == "tau2" else _demo_options())
    for lang in LANGS:
        same = set()
        for name, value in pairs:
            text = value_words(value, lang, name)
            if re.search(r"\d", value):
                # numbers and units stay; spelled-out unit words are translated ("lumens" is French)
                spelled = set(_SPELLED.findall(value)) - ({"lumens"} if lang == "fr" else set())
                if spelled:
                    assert not spelled & set(_SPELLED.findall(text)), (value, text)
                    assert re.sub(r"\D", "", text) == re.sub(r"\D", "", value)
                else:
                    assert text == value, (name, value, text)
            elif value in KEPT_VALUES:
                assert text == value, (name, value, text)
            elif _same(text, value):
                same.add(value)
        assert same == SAME_VALUES[lang] & {v for _, v in pairs}, sorted(same ^ SAME_VALUES[lang])


def test_english_options_read_as_before() -> None:
    for options in [*_tau2_options(), *_demo_options()]:
        assert options_words(options, "en") == describe_options(options)


def test_options_words_over_the_tau2_shop_leave_no_common_english_word() -> None:
    english = re.compile(
        r"\b(black|white|blue|red|green|leather|metal|plastic|wood|yes|low|high|medium|small|large|"
        r"beginner|battery|hours|inch|inches|degrees|piece|cups?|liters?|wireless|none|color|size|"
        r"material|capacity|brightness|storage|type)\b"
    )
    allowed = {"es": {"color", "material", "metal"}, "fr": {"type"}}
    for lang in LANGS:
        for options in _tau2_options():
            found = set(english.findall(options_words(options, lang))) - allowed[lang]
            assert not found, (options, lang, found)


# -------------------------------------------------------------------------------------- products

# Product names spelled the same in that language.
SAME_PRODUCTS: dict[str, frozenset[str]] = {
    "es": frozenset({"Perfume"}),
    "fr": frozenset({"Skateboard", "Smartphone", "T-Shirt"}),
}


@pytest.mark.parametrize("shop", ["tau2", "demo"])
def test_every_product_of_both_shops_is_translated(shop: str) -> None:
    if shop == "tau2":
        names = {p["name"] for p in _db()["products"].values()}
        assert len(names) == 50
    else:
        names = {p.name for p in generate_demo_shop(customers=0).products}
    for lang in LANGS:
        words = {n: product_words(n, lang) for n in names}
        assert len(set(words.values())) == len(names), words
        same = {n for n, text in words.items() if _same(text, n)}
        assert same == SAME_PRODUCTS[lang] & names
        assert all(product_words(n, "en") == n for n in names)


# ----------------------------------------------------------------------------------------- money


def test_money_formats() -> None:
    assert money(1234.5, "en") == "$1,234.50"
    assert money(1234.5, "es") == f"1.234,50{NBSP}US$"
    assert money(1234.5, "fr") == f"1{NBSP}234,50{NBSP}$US"
    assert money(1234567.891, "fr") == f"1{NBSP}234{NBSP}567,89{NBSP}$US"
    assert money(2.675, "en") == "$2.68"  # half up on the written value, not the float
    assert money(-15, "en") == "-$15.00"
    assert money(-15, "es") == f"-15,00{NBSP}US$"
    assert money(0, "fr") == f"0,00{NBSP}$US"
    assert money(-0.001, "en") == "$0.00"
    assert money(9.99, "de") == "$9.99"
    assert money(float("nan"), "es") == "nan"
    assert money(float("inf"), "fr") == "inf"


# ------------------------------------------------------------------------------- concrete cases

# "status | English | Spanish | French"
STATUS_CASES = (
    "pending | not shipped yet | aún no enviado | pas encore expédiée",
    "processed | on its way | en camino | en cours de livraison",
    "delivered | delivered | entregado | livrée",
    "cancelled | cancelled | cancelado | annulée",
    "Canceled | cancelled | cancelado | annulée",
    "return requested | return requested | devolución solicitada | retour demandé",
    "exchange requested | exchange requested | cambio solicitado | échange demandé",
    "pending (item modified) | not shipped yet (items changed) | "
    "aún no enviado (artículos modificados) | pas encore expédiée (articles modifiés)",
)
# "name | value | Spanish | French"; English is "name value".
OPTION_CASES = (
    "color | black | color negro | couleur noir",
    "size | 9 | talla 9 | taille 9",
    "size | XL | talla XL | taille XL",
    "size | small | tamaño pequeño | taille petit",
    "size | A5 | tamaño A5 | taille A5",
    "material | leather | material cuero | matière cuir",
    "material | stainless steel | material acero inoxidable | matière acier inoxydable",
    "power source | battery | alimentación batería | alimentation batterie",
    "power source | AC adapter | alimentación adaptador de corriente | "
    "alimentation adaptateur secteur",
    "brightness | low | brillo bajo | luminosité faible",
    "capacity | 1000ml | capacidad 1000ml | capacité 1000ml",
    "capacity | 1.5 liters | capacidad 1,5 litros | capacité 1,5 litre",
    "capacity | 1 cup | capacidad 1 taza | capacité 1 tasse",
    "capacity | 2-person | capacidad 2 personas | capacité 2 personnes",
    "pieces | 1000 | piezas 1000 | pièces 1000",
    "piece count | 3-piece | número de piezas 3 piezas | nombre de pièces 3 pièces",
    "difficulty level | beginner | nivel de dificultad principiante | niveau de difficulté débutant",
    "storage | 128GB | almacenamiento 128GB | stockage 128GB",
    "storage | SD card | almacenamiento tarjeta SD | stockage carte SD",
    "water resistance | yes | resistencia al agua sí | résistance à l'eau oui",
    "waterproof | no | impermeable no | imperméable non",
    "battery life | 10 hours | autonomía 10 horas | autonomie 10 heures",
    "screen size | 6.1-inch | tamaño de pantalla 6,1 pulgadas | taille d'écran 6,1 pouces",
    "field of view | 110 degrees | campo de visión 110 grados | champ de vision 110 degrés",
    "brightness | 75W equivalent | brillo equivalente a 75W | luminosité équivalent 75W",
    "connectivity | Wi-Fi + Cellular | conectividad Wi-Fi + datos móviles | "
    "connectivité Wi-Fi + cellulaire",
    "connectivity | wireless | conectividad inalámbrico | connectivité sans fil",
    "color | space grey | color gris espacial | couleur gris sidéral",
    "color | charcoal | color gris marengo | couleur anthracite",
    "type | charcoal | tipo carbón | type charbon",
    "sole | rubber | suela goma | semelle caoutchouc",
    "style | v-neck | estilo cuello en V | style col en V",
    "RAM | 8GB | RAM 8GB | RAM 8GB",
    "filter | HEPA + carbon | filtro HEPA + carbón | filtre HEPA + charbon",
    "zipper | half | cremallera hasta la mitad | fermeture éclair à mi-hauteur",
)
# "product | Spanish | French"; English is the name unchanged.
PRODUCT_CASES = (
    "Office Chair | silla de oficina | chaise de bureau",
    "Jigsaw Puzzle | rompecabezas | puzzle",
    "LED Light Bulb | bombilla LED | ampoule LED",
    "T-Shirt | camiseta | t-shirt",
    "hiking boots | botas de montaña | chaussures de randonnée",
    "Wireless Earbuds | auriculares inalámbricos | écouteurs sans fil",
    "Trail Running Shoe | zapatilla de trail | chaussure de trail",
)
MONEY_CASES = (
    (1234.5, "$1,234.50", f"1.234,50{NBSP}US$", f"1{NBSP}234,50{NBSP}$US"),
    (19.9, "$19.90", f"19,90{NBSP}US$", f"19,90{NBSP}$US"),
    (1000000, "$1,000,000.00", f"1.000.000,00{NBSP}US$", f"1{NBSP}000{NBSP}000,00{NBSP}$US"),
)


def _split(case: str) -> list[str]:
    return case.split(" | ")


def _all_cases() -> list[tuple[Callable[..., str], tuple[Any, ...], str, str, str]]:
    cases: list[tuple[Callable[..., str], tuple[Any, ...], str, str, str]] = []
    for case in STATUS_CASES:
        status, en, es, fr = _split(case)
        cases.append((status_words, (status,), en, es, fr))
    for case in OPTION_CASES:
        name, value, es, fr = _split(case)
        cases.append((option_words, (name, value), f"{name} {value}", es, fr))
    for case in PRODUCT_CASES:
        product, es, fr = _split(case)
        cases.append((product_words, (product,), product, es, fr))
    cases += [(money, (amount,), en, es, fr) for amount, en, es, fr in MONEY_CASES]
    return cases


@pytest.mark.parametrize(("func", "args", "en", "es", "fr"), _all_cases())
def test_concrete_cases(
    func: Callable[..., str], args: tuple[Any, ...], en: str, es: str, fr: str
) -> None:
    assert [func(*args, lang) for lang in ("en", "es", "fr")] == [en, es, fr]


def test_at_least_thirty_cases() -> None:
    cases = _all_cases()
    assert len(cases) >= 30
    assert {c[0] for c in cases} == {status_words, option_words, product_words, money}


def test_options_words_joins_the_options() -> None:
    options = {"color": "black", "size": "9"}
    assert options_words(options, "en") == "color black, size 9"
    assert options_words(options, "es") == "color negro, talla 9"
    assert options_words(options, "fr") == "couleur noir, taille 9"
    assert options_words({}, "fr") == ""
    assert options_words({"pieces": 1000}, "es") == "piezas 1000"


# ------------------------------------------------------------------------------- unknown input


@pytest.mark.parametrize("lang", ["en", "es", "fr", "de", ""])
def test_unknown_input_comes_back_readable(lang: str) -> None:
    assert status_words("in_transit", lang) == "in transit"
    assert status_words("", lang) == ""
    assert option_words("wattage", "1200W", lang) == "wattage 1200W"
    assert value_words("zebra stripes", lang) == "zebra stripes"
    assert value_words("", lang) == ""
    assert name_words("", lang) == ""
    assert product_words("Hoverboard X2", lang) == "Hoverboard X2"
    assert options_words({"flavour": "mint", "wattage": 1200}, lang) == "flavour mint, wattage 1200"


def test_unknown_language_reads_as_english() -> None:
    assert status_words("pending", "de") == "not shipped yet"
    assert option_words("color", "black", "de") == "color black"
    assert product_words("Office Chair", "it") == "Office Chair"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("où en est ma commande avec les lunettes de soleil ?", ("sunglasses",)),
        ("¿dónde está mi pedido de las botas de montaña?", ("hiking boots",)),
        # The longest name wins its stretch of text: the espresso machine is not a coffee maker too.
        ("quiero devolver la cafetera expreso", ("espresso machine",)),
        ("la cafetera expreso y la cafetera", ("espresso machine", "coffee maker")),
        ("where is my order", ()),
    ],
)
def test_products_named_in_spanish_and_french(text: str, names: tuple[str, ...]) -> None:
    assert products_named_in(text) == names


@pytest.mark.parametrize(
    ("names", "lang", "said"),
    [
        (["Garden Hose"], "en", "Garden Hose"),
        (["Garden Hose", "Backpack"], "en", "Garden Hose and Backpack"),
        (["Garden Hose", "Backpack", "Bookshelf"], "en", "Garden Hose, Backpack and Bookshelf"),
        (["mochila", "silla de oficina"], "es", "mochila y silla de oficina"),
        (["sac à dos", "chaise", "lampe"], "fr", "sac à dos, chaise et lampe"),
    ],
)
def test_names_are_listed_as_a_sentence_lists_them(names: list[str], lang: str, said: str) -> None:
    assert names_list(names, lang) == said
