"""The customer-facing words for shop data: order statuses, variant options, product names and amounts,
in English, Spanish or French.

The templates (``agent.templates``) are written in the customer's language, but the values filled in
come raw from the shop ("pending", "color: black", "Office Chair", "1234.5"). These pure functions turn
them into the customer's words, so a Spanish reply says "aún no enviado" rather than "pending".

Every table is keyed by the shop's English word (lower case) and holds the (Spanish, French) words.
Adjectives take the masculine / base form; status words agree with the order nouns the templates use
("el pedido", "la commande"). What is not in a table (numbers, units, model and brand names) is kept
as the shop wrote it; nothing here raises. An unknown language reads as English.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from knowledge.glossary import fold

NBSP: Final = "\u00a0"
"""The no-break space between an amount and its currency in Spanish and French."""


def _index(lang: str) -> int:
    """0 for English (and anything unknown), 1 for Spanish, 2 for French."""
    return {"es": 1, "fr": 2}.get(lang, 0)


def _key(text: str) -> str:
    return " ".join(text.lower().split())


# ----------------------------------------------------------------------------------------- statuses

# English, Spanish (agrees with "el pedido"), French (agrees with "la commande").
_STATUSES: Final[Mapping[str, tuple[str, str, str]]] = {
    "pending": ("not shipped yet", "aún no enviado", "pas encore expédiée"),
    "processed": ("on its way", "en camino", "en cours de livraison"),
    "delivered": ("delivered", "entregado", "livrée"),
    "cancelled": ("cancelled", "cancelado", "annulée"),
    "return requested": ("return requested", "devolución solicitada", "retour demandé"),
    "exchange requested": ("exchange requested", "cambio solicitado", "échange demandé"),
    "pending (item modified)": (
        "not shipped yet (items changed)",
        "aún no enviado (artículos modificados)",
        "pas encore expédiée (articles modifiés)",
    ),
}
_STATUS_ALIASES: Final[Mapping[str, str]] = {
    "canceled": "cancelled",
    "pending (items modified)": "pending (item modified)",
}

# Refund statuses (tools.models.RefundStatus), agreeing with "el reembolso" / "le remboursement".
_REFUND_STATUSES: Final[Mapping[str, tuple[str, str, str]]] = {
    "pending": ("in progress", "en curso", "en cours"),
    "completed": ("completed", "completado", "effectué"),
    "awaiting return": (
        "waiting for the returned items",
        "a la espera de los artículos devueltos",
        "en attente des articles retournés",
    ),
}


def _readable(text: str) -> str:
    return " ".join(str(text).replace("_", " ").split())


def status_words(status: str, lang: str) -> str:
    """An order status in plain words for the customer ("pending" -> "aún no enviado" in Spanish).

    Unknown statuses come back readable (underscores to spaces)."""
    key = _key(_readable(status))
    words = _STATUSES.get(_STATUS_ALIASES.get(key, key))
    return words[_index(lang)] if words else _readable(status)


# An order's status as the end of "order #W1 ...", for a reply saying why it cannot be changed.
_STATUS_CLAUSES: Final[Mapping[str, tuple[str, str, str]]] = {
    "pending": ("hasn't shipped yet", "aún no se ha enviado", "n'est pas encore expédiée"),
    "processed": ("is on its way", "está en camino", "est en cours de livraison"),
    "delivered": ("has been delivered", "ya se entregó", "a été livrée"),
    "cancelled": ("has been cancelled", "está cancelado", "a été annulée"),
    "return requested": (
        "already has a return requested",
        "ya tiene una devolución solicitada",
        "fait déjà l'objet d'une demande de retour",
    ),
    "exchange requested": (
        "already has an exchange requested",
        "ya tiene un cambio solicitado",
        "fait déjà l'objet d'une demande d'échange",
    ),
    "pending (item modified)": (
        "has already had its items changed",
        "ya tiene artículos modificados",
        "a déjà des articles modifiés",
    ),
}
# The status an action needs, after "only orders that ..." / "un pedido ..." / "une commande ...".
_STATUS_NEEDED: Final[Mapping[str, tuple[str, str, str]]] = {
    "pending": ("haven't shipped yet", "aún no enviado", "pas encore expédiée"),
    "delivered": ("have been delivered", "entregado", "livrée"),
}


def status_clause(status: str, lang: str) -> str:
    """What an order's status says about it, to end "order #W1 ...": "has been delivered"."""
    key = _key(_readable(status))
    words = _STATUS_CLAUSES.get(_STATUS_ALIASES.get(key, key))
    if words:
        return words[_index(lang)]
    return f"{('is', 'está', 'est')[_index(lang)]} {status_words(status, lang)}"


def status_needed(status: str, lang: str) -> str:
    """The status an action needs, to end "only orders that ...": "haven't shipped yet"."""
    words = _STATUS_NEEDED.get(_key(_readable(status)))
    return words[_index(lang)] if words else status_words(status, lang)


def refund_status_words(status: str, lang: str) -> str:
    """A refund status (not an order's) in plain words: "pending" -> "en curso" in Spanish."""
    words = _REFUND_STATUSES.get(_key(_readable(status)))
    return words[_index(lang)] if words else _readable(status)


# ------------------------------------------------------------------------------------ option names

# Every option name of the tau2 shop and of the demo shop (tools/demo.py).
_OPTION_NAMES: Final[Mapping[str, tuple[str, str]]] = {
    "armrest": ("reposabrazos", "accoudoir"),
    "backlight": ("retroiluminación", "rétroéclairage"),
    "backrest height": ("altura del respaldo", "hauteur du dossier"),
    "bagged/bagless": ("tipo", "type"),
    "band material": ("material de la correa", "matière du bracelet"),
    "base": ("casquillo", "culot"),
    "battery life": ("autonomía", "autonomie"),
    "battery type": ("tipo de batería", "type de batterie"),
    "brand": ("marca", "marque"),
    "brightness": ("brillo", "luminosité"),
    "burners": ("quemadores", "brûleurs"),
    "burr": ("muela", "meule"),
    "capacity": ("capacidad", "capacité"),
    "color": ("color", "couleur"),
    "color temperature": ("temperatura de color", "température de couleur"),
    "compartment": ("compartimento", "compartiment"),
    "compatibility": ("compatibilidad", "compatibilité"),
    "connectivity": ("conectividad", "connectivité"),
    "cover type": ("tipo de tapa", "type de couverture"),
    "cushion": ("acolchado", "rembourrage"),
    "deck material": ("material de la tabla", "matière du plateau"),
    "design": ("diseño", "motif"),
    "dial color": ("color de la esfera", "couleur du cadran"),
    "diameter": ("diámetro", "diamètre"),
    "difficulty level": ("nivel de dificultad", "niveau de difficulté"),
    "display": ("pantalla", "écran"),
    "dock": ("base", "station"),
    "features": ("funciones", "fonctions"),
    "field of view": ("campo de visión", "champ de vision"),
    "filter": ("filtro", "filtre"),
    "filter type": ("tipo de filtro", "type de filtre"),
    "finish": ("acabado", "finition"),
    "fit": ("corte", "coupe"),
    "frame color": ("color de la montura", "couleur de la monture"),
    "frame material": ("material de la montura", "matière de la monture"),
    "frame size": ("talla del cuadro", "taille du cadre"),
    "fuel": ("combustible", "combustible"),
    "gender": ("género", "genre"),
    "grip": ("empuñadura", "poignée"),
    "height": ("altura", "hauteur"),
    "hopper": ("tolva", "trémie"),
    "kit size": ("tamaño del kit", "taille du kit"),
    "length": ("longitud", "longueur"),
    "lens color": ("color de las lentes", "couleur des verres"),
    "lens type": ("tipo de lente", "type de verres"),
    "lid": ("tapa", "bouchon"),
    "light": ("luz", "lumière"),
    "material": ("material", "matière"),
    "model": ("modelo", "modèle"),
    "mop": ("fregado", "lavage"),
    "output": ("salida", "sortie"),
    "pack": ("paquete", "lot"),
    "piece count": ("número de piezas", "nombre de pièces"),
    "pieces": ("piezas", "pièces"),
    "power": ("alimentación", "alimentation"),
    "power source": ("alimentación", "alimentation"),
    "pressure": ("presión", "pression"),
    "processor": ("procesador", "processeur"),
    "ram": ("RAM", "RAM"),
    "resolution": ("resolución", "résolution"),
    "room size": ("tamaño de la habitación", "taille de la pièce"),
    "scent family": ("familia olfativa", "famille olfactive"),
    "screen size": ("tamaño de pantalla", "taille d'écran"),
    "season": ("uso", "usage"),
    "sensor type": ("tipo de sensor", "type de capteur"),
    "set type": ("tipo de set", "type de set"),
    "size": ("tamaño", "taille"),  # "talla" for clothes and shoes: see _size_name
    "skin tone": ("tono de piel", "teinte de peau"),
    "sole": ("suela", "semelle"),
    "speed settings": ("velocidades", "vitesses"),
    "storage": ("almacenamiento", "stockage"),
    "stovetop compatibility": ("tipo de placa", "type de plaque de cuisson"),
    "strap material": ("material de la correa", "matière du bracelet"),
    "style": ("estilo", "style"),
    "switch type": ("tipo de interruptor", "type d'interrupteur"),
    "temperature rating": ("temperatura de confort", "température de confort"),
    "theme": ("tema", "thème"),
    "thickness": ("grosor", "épaisseur"),
    "tilt mechanism": ("mecanismo de inclinación", "mécanisme d'inclinaison"),
    "torso size": ("talla de torso", "taille de dos"),
    "type": ("tipo", "type"),
    "ventilation": ("ventilación", "ventilation"),
    "water resistance": ("resistencia al agua", "résistance à l'eau"),
    "waterproof": ("impermeable", "imperméable"),
    "weight range": ("rango de peso", "plage de poids"),
    "zipper": ("cremallera", "fermeture éclair"),
    "zoom": ("zoom", "zoom"),
}
# Sizes of clothes and shoes ("talla" in Spanish; other sizes are a "tamaño").
_GARMENT_SIZE: Final = re.compile(r"^(?:\d+(?:\.5)?|X{0,3}[SML]|X{1,3}L|[SML]/[SML])$", re.I)


def _size_name(value: str) -> tuple[str, str]:
    return ("talla", "taille") if _GARMENT_SIZE.match(value.strip()) else _OPTION_NAMES["size"]


# ----------------------------------------------------------------------------------- option values

_YES_NO: Final[Mapping[str, tuple[str, str]]] = {
    "yes": ("sí", "oui"),
    "no": ("no", "non"),
    "none": ("ninguno", "aucun"),
}
_COLORS: Final[Mapping[str, tuple[str, str]]] = {
    "beige": ("beige", "beige"),
    "black": ("negro", "noir"),
    "blue": ("azul", "bleu"),
    "blue plaid": ("cuadros azules", "carreaux bleus"),
    "brown": ("marrón", "marron"),
    "brushed steel": ("acero cepillado", "acier brossé"),
    "cherry": ("cereza", "cerise"),
    "copper": ("cobre", "cuivre"),
    "ember red": ("rojo brasa", "rouge braise"),
    "forest green": ("verde bosque", "vert forêt"),
    "gold": ("dorado", "doré"),
    "gray": ("gris", "gris"),
    "green": ("verde", "vert"),
    "green plaid": ("cuadros verdes", "carreaux verts"),
    "grey": ("gris", "gris"),
    "navy": ("azul marino", "bleu marine"),
    "oatmeal": ("avena", "avoine"),
    "olive": ("verde oliva", "vert olive"),
    "orange": ("naranja", "orange"),
    "pink": ("rosa", "rose"),
    "purple": ("morado", "violet"),
    "red": ("rojo", "rouge"),
    "red plaid": ("cuadros rojos", "carreaux rouges"),
    "rose gold": ("oro rosa", "or rose"),
    "rust": ("óxido", "rouille"),
    "sage": ("verde salvia", "vert sauge"),
    "sand": ("arena", "sable"),
    "silver": ("plateado", "argenté"),
    "slate": ("pizarra", "ardoise"),
    "slate blue": ("azul pizarra", "bleu ardoise"),
    "space grey": ("gris espacial", "gris sidéral"),
    "tan": ("tostado", "fauve"),
    "teal": ("verde azulado", "bleu canard"),
    "white": ("blanco", "blanc"),
    "yellow": ("amarillo", "jaune"),
    "daylight": ("luz de día", "lumière du jour"),
    "warm white": ("blanco cálido", "blanc chaud"),
    "adjustable white": ("blanco regulable", "blanc réglable"),
}
_MATERIALS: Final[Mapping[str, tuple[str, str]]] = {
    "aluminum": ("aluminio", "aluminium"),
    "bamboo": ("bambú", "bambou"),
    "canvas": ("lona", "toile"),
    "carbon": ("carbón", "charbon"),
    "carbon fiber": ("fibra de carbono", "fibre de carbone"),
    "ceramic": ("cerámica", "céramique"),
    "charcoal": ("carbón", "charbon"),
    "cork": ("corcho", "liège"),
    "cotton": ("algodón", "coton"),
    "fabric": ("tela", "tissu"),
    "fleece": ("forro polar", "polaire"),
    "foam": ("espuma", "mousse"),
    "glass": ("vidrio", "verre"),
    "hardshell": ("carcasa rígida", "coque rigide"),
    "iron": ("hierro", "fer"),
    "latex": ("látex", "latex"),
    "leather": ("cuero", "cuir"),
    "maple": ("arce", "érable"),
    "memory foam": ("espuma viscoelástica", "mousse à mémoire de forme"),
    "mesh": ("malla", "maille"),
    "metal": ("metal", "métal"),
    "natural rubber": ("caucho natural", "caoutchouc naturel"),
    "nylon": ("nailon", "nylon"),
    "olefin": ("olefina", "oléfine"),
    "plastic": ("plástico", "plastique"),
    "polyester": ("poliéster", "polyester"),
    "rubber": ("caucho", "caoutchouc"),
    "silicone": ("silicona", "silicone"),
    "stainless steel": ("acero inoxidable", "acier inoxydable"),
    "synthetic": ("sintético", "synthétique"),
    "urethane": ("uretano", "uréthane"),
    "vinyl": ("vinilo", "vinyle"),
    "wood": ("madera", "bois"),
}
_QUALITIES: Final[Mapping[str, tuple[str, str]]] = {
    # levels and sizes
    "low": ("bajo", "faible"),
    "medium": ("medio", "moyen"),
    "high": ("alto", "élevé"),
    "small": ("pequeño", "petit"),
    "large": ("grande", "grand"),
    "mini": ("mini", "mini"),
    "standard": ("estándar", "standard"),
    "full size": ("completo", "standard"),
    "portable": ("portátil", "portable"),
    "regular": ("normal", "normal"),
    "long": ("largo", "long"),
    "full": ("completo", "complet"),
    "half": ("medio", "demi"),
    "single": ("individual", "simple"),
    "double": ("doble", "double"),
    "twin": ("individual", "une place"),
    "basic": ("básico", "basique"),
    "professional": ("profesional", "professionnel"),
    "beginner": ("principiante", "débutant"),
    "intermediate": ("intermedio", "intermédiaire"),
    "expert": ("experto", "expert"),
    "light": ("claro", "clair"),
    "dark": ("oscuro", "foncé"),
    "heavy": ("grueso", "épais"),
    # how things work
    "adjustable": ("regulable", "réglable"),
    "fixed": ("fijo", "fixe"),
    "automatic": ("automático", "automatique"),
    "manual": ("manual", "manuel"),
    "analog": ("analógico", "analogique"),
    "digital": ("digital", "numérique"),
    "electric": ("eléctrico", "électrique"),
    "gas": ("gas", "gaz"),
    "induction": ("inducción", "induction"),
    "rechargeable": ("recargable", "rechargeable"),
    "battery": ("batería", "batterie"),
    "ac adapter": ("adaptador de corriente", "adaptateur secteur"),
    "wired": ("con cable", "filaire"),
    "wireless": ("inalámbrico", "sans fil"),
    "cordless": ("sin cable", "sans fil"),
    "cellular": ("datos móviles", "cellulaire"),
    "aa batteries": ("pilas AA", "piles AA"),
    "aaa batteries": ("pilas AAA", "piles AAA"),
    "sd card": ("tarjeta SD", "carte SD"),
    "cf card": ("tarjeta CF", "carte CF"),
    "hepa filter": ("filtro HEPA", "filtre HEPA"),
    "auto shutoff": ("apagado automático", "arrêt automatique"),
    "built-in grinder": ("molinillo integrado", "moulin intégré"),
    "night mode": ("modo nocturno", "mode nuit"),
    "pet hair removal": ("eliminación de pelo de mascotas", "élimination des poils d'animaux"),
    "quiet operation": ("funcionamiento silencioso", "fonctionnement silencieux"),
    "rotisserie": ("asador giratorio", "tournebroche"),
    "side burner": ("quemador lateral", "brûleur latéral"),
    "smart sensors": ("sensores inteligentes", "capteurs intelligents"),
    "timer": ("temporizador", "minuteur"),
    "high-back": ("respaldo alto", "dossier haut"),
    "bagged": ("con bolsa", "avec sac"),
    "bagless": ("sin bolsa", "sans sac"),
    "camera": ("cámara", "appareil photo"),
    "hydration": ("hidratación", "hydratation"),
    "laptop": ("portátil", "ordinateur portable"),
    "hard cover": ("tapa dura", "couverture rigide"),
    "soft cover": ("tapa blanda", "couverture souple"),
    "custom": ("personalizado", "personnalisé"),
    "graphic": ("gráfico", "graphique"),
    "plain": ("liso", "uni"),
    "men": ("hombre", "homme"),
    "women": ("mujer", "femme"),
    "unisex": ("unisex", "unisexe"),
    "polarized": ("polarizado", "polarisé"),
    "non-polarized": ("no polarizado", "non polarisé"),
    "ionic": ("iónico", "ionique"),
    "laser": ("láser", "laser"),
    "optical": ("óptico", "optique"),
    "fresh": ("fresco", "frais"),
    "oriental": ("oriental", "oriental"),
    "woody": ("amaderado", "boisé"),
    "crew neck": ("cuello redondo", "col rond"),
    "v-neck": ("cuello en V", "col en V"),
    "clicky": ("con clic", "à clic"),
    "linear": ("lineal", "linéaire"),
    "tactile": ("táctil", "tactile"),
    "animals": ("animales", "animaux"),
    "art": ("arte", "art"),
    "fantasy": ("fantasía", "fantastique"),
    "landscape": ("paisaje", "paysage"),
    "auto tilt": ("inclinación automática", "inclinaison automatique"),
    "manual tilt": ("inclinación manual", "inclinaison manuelle"),
    "canister": ("de trineo", "traîneau"),
    "capsule": ("de cápsulas", "à capsules"),
    "drip": ("de goteo", "filtre"),
    "espresso": ("expreso", "expresso"),
    "french press": ("prensa francesa", "à piston"),
    "in-ear": ("intrauditivo", "intra-auriculaire"),
    "on-ear": ("supraaural", "supra-auriculaire"),
    "over-ear": ("circumaural", "circum-auriculaire"),
    "mountain": ("de montaña", "tout-terrain"),
    "road": ("de carretera", "de route"),
    "robotic": ("robot", "robot"),
    "upright": ("vertical", "vertical"),
    "not resistant": ("no resistente", "non résistant"),
    "conical": ("cónico", "conique"),
    "flat": ("plano", "plat"),
    "charging": ("de carga", "de recharge"),
    "self-emptying": ("de autovaciado", "à vidage automatique"),
    "enameled": ("esmaltado", "émaillé"),
    "pre-seasoned": ("precurado", "pré-culotté"),
    "slim": ("entallado", "ajusté"),
    "propane": ("propano", "propane"),
    "butane": ("butano", "butane"),
    "screw cap": ("tapón de rosca", "bouchon à vis"),
    "straw lid": ("tapa con pajita", "bouchon à paille"),
    "mop pad": ("con mopa", "avec serpillière"),
    "no mop": ("sin mopa", "sans serpillière"),
    "expandable": ("extensible", "extensible"),
    "natural": ("natural", "naturel"),
    "hand towel": ("toalla de manos", "serviette de toilette"),
    "bath towel": ("toalla de baño", "serviette de bain"),
    "bath sheet": ("sábana de baño", "drap de bain"),
}
_VALUES: Final[Mapping[str, tuple[str, str]]] = {**_YES_NO, **_COLORS, **_MATERIALS, **_QUALITIES}

# Where a value means something else under one option name.
_IN_CONTEXT: Final[Mapping[tuple[str, str], tuple[str, str]]] = {
    ("color", "charcoal"): ("gris marengo", "anthracite"),
    ("light", "color"): ("color", "couleur"),
    ("cushion", "light"): ("ligero", "léger"),
    ("sole", "rubber"): ("goma", "caoutchouc"),
    ("fit", "regular"): ("clásico", "classique"),
    ("zipper", "full"): ("completa", "intégrale"),
    ("zipper", "half"): ("hasta la mitad", "à mi-hauteur"),
    ("size", "full"): ("matrimonial", "deux places"),
}

# Spelled-out units after a number ("10 hours", "2-piece", "6.1-inch"):
# English singular -> (Spanish singular, plural), (French singular, plural).
_UNITS: Final[Mapping[str, tuple[tuple[str, str], tuple[str, str]]]] = {
    "hour": (("hora", "horas"), ("heure", "heures")),
    "cup": (("taza", "tazas"), ("tasse", "tasses")),
    "liter": (("litro", "litros"), ("litre", "litres")),
    "inch": (("pulgada", "pulgadas"), ("pouce", "pouces")),
    "degree": (("grado", "grados"), ("degré", "degrés")),
    "piece": (("pieza", "piezas"), ("pièce", "pièces")),
    "person": (("persona", "personas"), ("personne", "personnes")),
    "season": (("estación", "estaciones"), ("saison", "saisons")),
    "bulb": (("bombilla", "bombillas"), ("ampoule", "ampoules")),
    "lumen": (("lumen", "lúmenes"), ("lumen", "lumens")),
}
_UNIT_PLURALS: Final[Mapping[str, str]] = {
    "hours": "hour",
    "cups": "cup",
    "liters": "liter",
    "litre": "liter",
    "litres": "liter",
    "inches": "inch",
    "degrees": "degree",
    "pieces": "piece",
    "persons": "person",
    "people": "person",
    "seasons": "season",
    "bulbs": "bulb",
    "lumens": "lumen",
}
_COUNTED: Final = re.compile(r"^(\d+(?:\.\d+)?)[ -]([a-z]+)$", re.IGNORECASE)
_EQUIVALENT: Final = re.compile(r"^(\S+) equivalent$", re.IGNORECASE)


def _counted(value: str, lang: int) -> str | None:
    """A number and a spelled-out unit ("10 hours" -> "10 horas"); None when the word is no unit."""
    match = _COUNTED.match(value.strip())
    if not match:
        return None
    number, word = match.groups()
    unit = _UNIT_PLURALS.get(word.lower(), word.lower())
    if unit not in _UNITS:
        return None
    amount = float(number)
    spanish, french = _UNITS[unit]
    # Spanish: singular for one only; French: singular below two ("1,5 litre").
    singular, plural = spanish if lang == 1 else french
    one = amount == 1 if lang == 1 else amount < 2
    return f"{number.replace('.', ',')} {singular if one else plural}"


def value_words(value: str, lang: str, name: str = "") -> str:
    """An option value in ``lang``: "black" -> "negro"; numbers, units and model names unchanged."""
    text = str(value)
    index = _index(lang)
    if index == 0 or not text.strip():
        return text
    key = _key(text)
    words = _IN_CONTEXT.get((_key(name), key)) or _VALUES.get(key)
    if words:
        return words[index - 1]
    if counted := _counted(text, index):
        return counted
    if match := _EQUIVALENT.match(text.strip()):
        return f"{('equivalente a ', 'équivalent ')[index - 1]}{match.group(1)}"
    if " + " in text:  # "HEPA + carbon", "Wi-Fi + Cellular"
        return " + ".join(value_words(part, lang, name) for part in text.split(" + "))
    return text


def name_words(name: str, lang: str, value: str = "") -> str:
    """An option name in ``lang``: "size" -> "talla" (clothes, shoes) or "tamaño" in Spanish."""
    text = str(name)
    index = _index(lang)
    key = _key(text)
    if index == 0 or key not in _OPTION_NAMES:
        return text
    words = _size_name(str(value)) if key == "size" else _OPTION_NAMES[key]
    return words[index - 1]


def option_words(name: str, value: str, lang: str) -> str:
    """One option as the customer reads it: "size 9" -> "talla 9" (es), "taille 9" (fr)."""
    return f"{name_words(name, lang, value)} {value_words(value, lang, name)}"


def options_words(options: Mapping[str, Any], lang: str) -> str:
    """A variant's options: "color black, size 9" -> "color negro, talla 9" in Spanish."""
    return ", ".join(option_words(str(k), str(v), lang) for k, v in options.items())


# ---------------------------------------------------------------------------------------- products

# The tau2 shop's products and the demo shop's (tools/demo.py): English name -> (Spanish, French).
_PRODUCTS: Final[Mapping[str, tuple[str, str]]] = {
    "action camera": ("cámara deportiva", "caméra sport"),
    "air purifier": ("purificador de aire", "purificateur d'air"),
    "backpack": ("mochila", "sac à dos"),
    "bath towel set": ("juego de toallas de baño", "lot de serviettes de bain"),
    "bicycle": ("bicicleta", "vélo"),
    "bluetooth speaker": ("altavoz Bluetooth", "enceinte Bluetooth"),
    "bookshelf": ("estantería", "bibliothèque"),
    "camping hammock": ("hamaca de camping", "hamac de camping"),
    "camping stove": ("hornillo de camping", "réchaud de camping"),
    "camping tent": ("tienda de campaña", "tente de camping"),
    "cast iron skillet": ("sartén de hierro fundido", "poêle en fonte"),
    "coffee maker": ("cafetera", "cafetière"),
    "cycling helmet": ("casco de ciclismo", "casque de vélo"),
    "desk lamp": ("lámpara de escritorio", "lampe de bureau"),
    "digital camera": ("cámara digital", "appareil photo numérique"),
    "down sleeping bag": ("saco de dormir de plumón", "sac de couchage en duvet"),
    "dumbbell set": ("juego de mancuernas", "set d'haltères"),
    "dutch oven": ("olla de hierro fundido", "cocotte en fonte"),
    "e-reader": ("lector de libros electrónicos", "liseuse"),
    "electric kettle": ("hervidor eléctrico", "bouilloire électrique"),
    "electric toothbrush": ("cepillo de dientes eléctrico", "brosse à dents électrique"),
    "espresso grinder": ("molinillo de café expreso", "moulin à expresso"),
    "espresso machine": ("cafetera expreso", "machine à expresso"),
    "fleece jacket": ("chaqueta polar", "veste polaire"),
    "french press": ("cafetera de émbolo", "cafetière à piston"),
    "gaming mouse": ("ratón para videojuegos", "souris gamer"),
    "garden hose": ("manguera de jardín", "tuyau d'arrosage"),
    "grill": ("parrilla", "barbecue"),
    "hard cooler": ("nevera rígida", "glacière rigide"),
    "headphones": ("auriculares", "casque audio"),
    "hiking backpack": ("mochila de senderismo", "sac à dos de randonnée"),
    "hiking boots": ("botas de montaña", "chaussures de randonnée"),
    "indoor security camera": (
        "cámara de seguridad para interiores",
        "caméra de sécurité intérieure",
    ),
    "insulated water bottle": ("botella térmica", "gourde isotherme"),
    "jigsaw puzzle": ("rompecabezas", "puzzle"),
    "laptop": ("portátil", "ordinateur portable"),
    "led desk lamp": ("lámpara de escritorio LED", "lampe de bureau LED"),
    "led headlamp": ("linterna frontal LED", "lampe frontale LED"),
    "led light bulb": ("bombilla LED", "ampoule LED"),
    "linen sheet set": ("juego de sábanas de lino", "parure de draps en lin"),
    "luggage set": ("juego de maletas", "ensemble de bagages"),
    "makeup kit": ("kit de maquillaje", "kit de maquillage"),
    "mechanical keyboard": ("teclado mecánico", "clavier mécanique"),
    "merino wool sweater": ("jersey de lana merino", "pull en laine mérinos"),
    "notebook": ("cuaderno", "carnet"),
    "office chair": ("silla de oficina", "chaise de bureau"),
    "patio umbrella": ("sombrilla de terraza", "parasol de terrasse"),
    "perfume": ("perfume", "parfum"),
    "pet bed": ("cama para mascotas", "lit pour animaux"),
    "picnic blanket": ("manta de pícnic", "couverture de pique-nique"),
    "portable charger": ("cargador portátil", "batterie externe"),
    "rain jacket": ("chaqueta impermeable", "veste imperméable"),
    "robot vacuum": ("robot aspirador", "aspirateur robot"),
    "running shoes": ("zapatillas para correr", "chaussures de course"),
    "skateboard": ("monopatín", "skateboard"),
    "smart light bulb": ("bombilla inteligente", "ampoule connectée"),
    "smart thermostat": ("termostato inteligente", "thermostat intelligent"),
    "smart watch": ("reloj inteligente", "montre connectée"),
    "smartphone": ("teléfono inteligente", "smartphone"),
    "sneakers": ("zapatillas deportivas", "baskets"),
    "solar lantern": ("farol solar", "lanterne solaire"),
    "sunglasses": ("gafas de sol", "lunettes de soleil"),
    "t-shirt": ("camiseta", "t-shirt"),
    "tablet": ("tableta", "tablette"),
    "tea kettle": ("tetera", "bouilloire"),
    "trail running shoe": ("zapatilla de trail", "chaussure de trail"),
    "trekking poles": ("bastones de trekking", "bâtons de randonnée"),
    "vacuum cleaner": ("aspiradora", "aspirateur"),
    "wall clock": ("reloj de pared", "horloge murale"),
    "water bottle": ("botella de agua", "gourde"),
    "wireless earbuds": ("auriculares inalámbricos", "écouteurs sans fil"),
    "wool hiking socks": ("calcetines de senderismo de lana", "chaussettes de randonnée en laine"),
    "wristwatch": ("reloj de pulsera", "montre"),
    "yoga mat": ("esterilla de yoga", "tapis de yoga"),
}


def product_words(name: str, lang: str) -> str:
    """A product's name in ``lang`` ("Office Chair" -> "silla de oficina"); unknown names unchanged.

    Translations are common nouns in lower case, to be used mid-sentence."""
    text = str(name)
    index = _index(lang)
    words = _PRODUCTS.get(_key(text)) if index else None
    return words[index - 1] if words else text


_AND: Final = ("and", "y", "et")


def names_list(words: Sequence[str], lang: str) -> str:
    """Names joined as a sentence lists them, in ``lang``: "Garden Hose, Backpack and Bookshelf",
    "mochila y silla de oficina"."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {_AND[_index(lang)]} {words[-1]}"


# Spanish and French names, longest first: "cafetera expreso" is found before "cafetera".
_FOREIGN_NAMES: Final = sorted(
    ((fold(foreign), english) for english, names in _PRODUCTS.items() for foreign in names),
    key=lambda pair: -len(pair[0]),
)


@functools.lru_cache(maxsize=512)
def products_named_in(text: str) -> tuple[str, ...]:
    """The English names of the products the text names in Spanish or French ("mi pedido de las
    gafas de sol" -> ["sunglasses"]); each stretch of text names one product at most."""
    rest = fold(text)
    found = []
    for foreign, english in _FOREIGN_NAMES:
        pattern = rf"(?<![\w-]){re.escape(foreign)}(?:e?s|x)?(?![\w-])"
        if re.search(pattern, rest):
            found.append(english)
            rest = re.sub(pattern, " ", rest)
    return tuple(found)


# ------------------------------------------------------------------------------------------- money

_CENT: Final = Decimal("0.01")


def money(amount: float, lang: str) -> str:
    """A US-dollar amount as written in ``lang``, to the cent (half up):

    - English: "$1,234.50" (comma for thousands, point for decimals, sign before);
    - Spanish: "1.234,50 US$" (Spain's usual form: point for thousands, also in four-digit amounts,
      comma for decimals, symbol after; "US$" is CLDR's Spanish symbol for the dollar, which no peso
      shares);
    - French: "1 234,50 $US" (CLDR and the Imprimerie nationale's rules: space for thousands, comma
      for decimals, "$US" after).

    The spaces in Spanish and French are no-break spaces (:data:`NBSP`, where CLDR's French has a
    narrower one that some fonts lack), so a line never splits an amount. A negative amount takes a
    leading minus; a non-number comes back as ``str(amount)``."""
    try:
        if not math.isfinite(float(amount)):
            return str(amount)
        cents = Decimal(str(amount)).quantize(_CENT, rounding=ROUND_HALF_UP)
    except (TypeError, ValueError, ArithmeticError):
        return str(amount)
    sign = "-" if cents < 0 else ""
    whole, fraction = f"{abs(cents):,.2f}".split(".")
    index = _index(lang)
    if index == 0:
        return f"{sign}${whole}.{fraction}"
    if index == 1:
        return f"{sign}{whole.replace(',', '.')},{fraction}{NBSP}US$"
    return f"{sign}{whole.replace(',', NBSP)},{fraction}{NBSP}$US"
