"""The replies the agent writes without an LLM, in English, Spanish and French.

Every fact in a template comes from its arguments (tool results, passages, what the customer said), so a
templated reply is grounded by construction; it is also the fallback for anything an LLM drafts.
"""

from __future__ import annotations

from typing import Any, Final

from agent.language import LANGUAGES

_T: Final[dict[str, tuple[str, str, str]]] = {
    "rephrase": (
        "I'm not sure I understood. Could you tell me a bit more? I can help with tracking an order, "
        "cancellations, returns, exchanges, address changes, refunds, products and our policies.",
        "No estoy seguro de haberle entendido. ¿Podría darme más detalles? Puedo ayudarle con el "
        "seguimiento de pedidos, cancelaciones, devoluciones, cambios, direcciones, reembolsos, "
        "productos y nuestras políticas.",
        "Je ne suis pas sûr d'avoir compris. Pourriez-vous préciser ? Je peux vous aider pour le suivi "
        "d'une commande, les annulations, retours, échanges, adresses, remboursements, produits et nos "
        "conditions.",
    ),
    "ask_name_zip": (
        "No problem. What are your first name, last name and zip code?",
        "No hay problema. ¿Cuáles son su nombre, su apellido y su código postal?",
        "Pas de souci. Quels sont vos prénom, nom et code postal ?",
    ),
    "ask_identity": (
        "To look at your account I first need to verify you: please give me the email on your "
        "account, or your first name, last name and zip code.",
        "Para consultar su cuenta primero debo verificar su identidad: indíqueme el correo de su "
        "cuenta, o su nombre, apellido y código postal.",
        "Pour consulter votre compte, je dois d'abord vérifier votre identité : donnez-moi l'e-mail de "
        "votre compte, ou vos prénom, nom et code postal.",
    ),
    "ask_zip": (
        "Thank you. To verify you, what is the zip code on your account?",
        "Gracias. Para verificar su identidad, ¿cuál es el código postal de su cuenta?",
        "Merci. Pour vérifier votre identité, quel est le code postal de votre compte ?",
    ),
    "ask_last_name": (
        "Thank you, {first_name}. To verify you, what is your last name, as on your account?",
        "Gracias, {first_name}. Para verificar su identidad, ¿cuál es su apellido, tal como figura "
        "en su cuenta?",
        "Merci, {first_name}. Pour vérifier votre identité, quel est votre nom de famille, tel "
        "qu'il figure sur votre compte ?",
    ),
    "ask_name": (
        "Thank you. To verify you, what are your first and last name, as on your account?",
        "Gracias. Para verificar su identidad, ¿cuáles son su nombre y apellido, tal como figuran "
        "en su cuenta?",
        "Merci. Pour vérifier votre identité, quels sont vos prénom et nom, tels qu'ils figurent "
        "sur votre compte ?",
    ),
    "other_order_used": (
        "Order {asked} is {status}, so I can't do that on it; your order {order_id} also has the "
        "{items}, and that one I can.\n",
        "El pedido {asked} está {status}, así que no puedo hacerlo en él; su pedido {order_id} "
        "también tiene {items}, y ese sí.\n",
        "La commande {asked} est {status}, je ne peux donc pas le faire sur elle ; votre commande "
        "{order_id} contient aussi {items}, et celle-là oui.\n",
    ),
    "other_order_has": (
        "Order {asked} has no {items}; your order {order_id} does, so that is the one I'm looking "
        "at.\n",
        "El pedido {asked} no tiene {items}; su pedido {order_id} sí, así que miro ese.\n",
        "La commande {asked} ne contient pas {items} ; votre commande {order_id} oui, je regarde "
        "donc celle-là.\n",
    ),
    "one_write_per_order": (
        "Order {order_id} has been delivered, and a delivered order can take one return or one "
        "exchange, not both. Which would you like: to return {returned}, or to exchange "
        "{exchanged}?",
        "El pedido {order_id} ya fue entregado, y un pedido entregado admite una devolución o un "
        "cambio, no ambos. ¿Qué prefiere: devolver {returned} o cambiar {exchanged}?",
        "La commande {order_id} a été livrée, et une commande livrée peut faire l'objet d'un retour "
        "ou d'un échange, pas des deux. Que préférez-vous : retourner {returned}, ou échanger "
        "{exchanged} ?",
    ),
    "which_order": (
        "Which order is it about: {orders}?",
        "¿De qué pedido se trata: {orders}?",
        "De quelle commande s'agit-il : {orders} ?",
    ),
    "or": (" or ", " o ", " ou "),
    "auth_failed": (
        "I couldn't find an account with those details. Could you check them, or give me your first "
        "name, last name and zip code instead?",
        "No encontré ninguna cuenta con esos datos. ¿Puede revisarlos, o darme su nombre, apellido y "
        "código postal?",
        "Je n'ai trouvé aucun compte avec ces informations. Pouvez-vous les vérifier, ou me donner vos "
        "prénom, nom et code postal ?",
    ),
    "auth_ok": (
        "Thank you, you're verified. How can I help you today?",
        "Gracias, ya está verificado. ¿En qué puedo ayudarle?",
        "Merci, votre identité est vérifiée. Que puis-je faire pour vous ?",
    ),
    "ask_order_id": (
        "Which order is it about? Please give me the order number (like #W1234567).{orders}",
        "¿De qué pedido se trata? Indíqueme el número de pedido (como #W1234567).{orders}",
        "De quelle commande s'agit-il ? Donnez-moi le numéro de commande (comme #W1234567).{orders}",
    ),
    "your_orders": (
        " Your orders: {orders}.",
        " Sus pedidos: {orders}.",
        " Vos commandes : {orders}.",
    ),
    "order_not_found": (
        "I couldn't find order {order_id} on your account. Could you check the number?",
        "No encontré el pedido {order_id} en su cuenta. ¿Puede revisar el número?",
        "Je n'ai pas trouvé la commande {order_id} sur votre compte. Pouvez-vous vérifier le numéro ?",
    ),
    "order_status": (
        "Order {order_id} is {status}.",
        "Estado del pedido {order_id}: {status}.",
        "État de la commande {order_id} : {status}.",
    ),
    "shipment": (
        " It shipped with {carrier} (tracking {tracking}) on {shipped}.",
        " Se envió con {carrier} (seguimiento {tracking}) el {shipped}.",
        " Elle a été expédiée par {carrier} (suivi {tracking}) le {shipped}.",
    ),
    "delivered_on": (
        " It was delivered on {date}.",
        " Se entregó el {date}.",
        " Elle a été livrée le {date}.",
    ),
    "eta": (
        " Estimated delivery: {date}.",
        " Entrega estimada: {date}.",
        " Livraison estimée : {date}.",
    ),
    "tracking_only": (
        " Tracking number(s): {tracking}.",
        " Número(s) de seguimiento: {tracking}.",
        " Numéro(s) de suivi : {tracking}.",
    ),
    "not_shipped": (
        " It hasn't shipped yet.",
        " Todavía no se ha enviado.",
        " Elle n'a pas encore été expédiée.",
    ),
    "no_refund": (
        "There is no refund on order {order_id} (status: {status}).",
        "No hay ningún reembolso en el pedido {order_id} (estado: {status}).",
        "Il n'y a aucun remboursement sur la commande {order_id} (statut : {status}).",
    ),
    "refunds": (
        "Refunds on order {order_id}: {lines}.",
        "Reembolsos del pedido {order_id}: {lines}.",
        "Remboursements de la commande {order_id} : {lines}.",
    ),
    "refund_line": (
        "${amount} to {pm}, {status}, expected by {date}",
        "{amount} $ a {pm}, {status}, previsto para el {date}",
        "{amount} $ sur {pm}, {status}, prévu le {date}",
    ),
    "cancel_whole_only": (
        "An order can only be cancelled as a whole, not item by item: cancelling order {order_id} "
        "cancels everything in it ({items}). If you'd rather keep it, I can change an item to another "
        "option of the same product instead.\n",
        "Un pedido solo se puede cancelar entero, no por artículos: cancelar el pedido {order_id} "
        "cancela todo lo que contiene ({items}). Si prefiere conservarlo, puedo cambiar un artículo "
        "por otra opción del mismo producto.\n",
        "Une commande ne peut être annulée qu'en entier, pas article par article : annuler la "
        "commande {order_id} annule tout ce qu'elle contient ({items}). Si vous préférez la garder, "
        "je peux remplacer un article par une autre option du même produit.\n",
    ),
    "cancel_all_of_it": (
        "Just to be clear: this cancels the whole order, not only the {named}.\n",
        "Para que quede claro: esto cancela el pedido entero, no solo {named}.\n",
        "Pour être clair : cela annule toute la commande, pas seulement {named}.\n",
    ),
    "ask_cancel_whole_reason": (
        "If you do want to cancel the whole order, tell me why: is it no longer needed, or was it "
        "ordered by mistake? Otherwise it stays as it is.",
        "Si quiere cancelar el pedido entero, dígame por qué: ¿ya no lo necesita, o lo pidió por "
        "error? Si no, lo dejamos como está.",
        "Si vous voulez annuler toute la commande, dites-moi pourquoi : vous n'en avez plus besoin, "
        "ou l'avez-vous commandée par erreur ? Sinon, elle reste telle quelle.",
    ),
    "ask_cancel_reason": (
        "Why would you like to cancel order {order_id}: is it no longer needed, or was it ordered by "
        "mistake?",
        "¿Por qué desea cancelar el pedido {order_id}: ya no lo necesita, o lo pidió por error?",
        "Pourquoi souhaitez-vous annuler la commande {order_id} : vous n'en avez plus besoin, ou "
        "l'avez-vous commandée par erreur ?",
    ),
    "confirm_cancel": (
        "To confirm: cancel order {order_id} ({items}), reason '{reason}'; what you paid is refunded. "
        "Shall I go ahead? (yes/no)",
        "Para confirmar: cancelar el pedido {order_id} ({items}), motivo '{reason}'; se reembolsará lo "
        "pagado. ¿Continúo? (sí/no)",
        "Pour confirmer : annuler la commande {order_id} ({items}), motif « {reason} » ; ce que vous "
        "avez payé est remboursé. Je continue ? (oui/non)",
    ),
    "done_cancel": (
        "Done: order {order_id} is cancelled. {refunds}",
        "Hecho: el pedido {order_id} está cancelado. {refunds}",
        "C'est fait : la commande {order_id} est annulée. {refunds}",
    ),
    "refund_note": (
        "Refund of ${amount} to {pm}.",
        "Reembolso de {amount} $ a {pm}.",
        "Remboursement de {amount} $ sur {pm}.",
    ),
    "ask_items": (
        "Which items from order {order_id} would you like to {action}? {items}",
        "¿Qué artículos del pedido {order_id} desea {action}? {items}",
        "Quels articles de la commande {order_id} souhaitez-vous {action} ? {items}",
    ),
    "verb_return": ("return", "devolver", "retourner"),
    "verb_exchange": ("exchange", "cambiar", "échanger"),
    "ask_refund_method": (
        "Returning {items} from order {order_id} refunds ${amount}. Should the refund go to the "
        "original payment method ({original}){gift}?",
        "La devolución de {items} del pedido {order_id} reembolsa {amount} $. ¿El reembolso debe "
        "ir al método de pago original ({original}){gift}?",
        "Le retour de {items} de la commande {order_id} rembourse {amount} $. Le remboursement "
        "doit-il aller sur le moyen de paiement d'origine ({original}){gift} ?",
    ),
    "or_gift_card": (
        " or to {gift}",
        " o a {gift}",
        " ou sur {gift}",
    ),
    "confirm_return": (
        "To confirm: return {items} from order {order_id}, refunding ${amount} to {pm}. Shall I go "
        "ahead? (yes/no)",
        "Para confirmar: devolver {items} del pedido {order_id}, con reembolso de {amount} $ a {pm}. "
        "¿Continúo? (sí/no)",
        "Pour confirmer : retourner {items} de la commande {order_id}, avec un remboursement de "
        "{amount} $ sur {pm}. Je continue ? (oui/non)",
    ),
    "done_return": (
        "Done: the return of {items} from order {order_id} is requested; you'll get an email on how to "
        "send the items back. ${amount} will be refunded to {pm}.",
        "Hecho: la devolución de {items} del pedido {order_id} está solicitada; recibirá un correo con "
        "las instrucciones de envío. Se reembolsarán {amount} $ a {pm}.",
        "C'est fait : le retour de {items} de la commande {order_id} est demandé ; vous recevrez un "
        "e-mail expliquant comment renvoyer les articles. {amount} $ seront remboursés sur {pm}.",
    ),
    "ask_variant": (
        "What would you like instead of the {item} ({options})? It comes in: {available}.",
        "¿Qué desea en lugar de {item} ({options})? Existe en: {available}.",
        "Que souhaitez-vous à la place de {item} ({options}) ? Il existe en : {available}.",
    ),
    "variant_options": (
        "The {item} you have is {options}. It also comes in: {available}. Which would you like "
        "instead? For example: {example}.",
        "Su {item} es {options}. También existe en: {available}. ¿Cuál desea en su lugar? Por "
        "ejemplo: {example}.",
        "Votre {item} est {options}. Il existe aussi en : {available}. Lequel souhaitez-vous à la "
        "place ? Par exemple : {example}.",
    ),
    "no_variant": (
        "I couldn't find an available {item} like that. Here is what we have: {available}.",
        "No encontré {item} disponible así. Esto es lo que tenemos: {available}.",
        "Je n'ai pas trouvé de {item} disponible de ce type. Voici ce que nous avons : {available}.",
    ),
    "no_variant_otherwise": (
        "No {item} we have fits what you asked for ({available}), so, as you said, here is the "
        "other option.",
        "Ningún {item} disponible cumple lo que pidió ({available}), así que, como dijo, aquí "
        "tiene la otra opción.",
        "Aucun {item} disponible ne correspond à votre demande ({available}) ; comme vous l'avez "
        "dit, voici donc l'autre option.",
    ),
    "choose_variant": (
        "Several {item} options fit what you asked for:\n{choices}\nWhich one would you like?",
        "Varias opciones de {item} encajan con lo que pide:\n{choices}\n¿Cuál prefiere?",
        "Plusieurs options de {item} correspondent à votre demande :\n{choices}\nLaquelle "
        "souhaitez-vous ?",
    ),
    "confirm_exchange_many": (
        "To confirm: on order {order_id}, exchange {changes}; {difference}. Shall I go ahead? (yes/no)",
        "Para confirmar: en el pedido {order_id}, cambiar {changes}; {difference}. ¿Continúo? "
        "(sí/no)",
        "Pour confirmer : sur la commande {order_id}, échanger {changes} ; {difference}. Je "
        "continue ? (oui/non)",
    ),
    "confirm_exchange": (
        "To confirm: exchange {item} ({old}) for ({new}) on order {order_id}; {difference}. Shall I "
        "go ahead? (yes/no)",
        "Para confirmar: cambiar {item} ({old}) por ({new}) en el pedido {order_id}; {difference}. "
        "¿Continúo? (sí/no)",
        "Pour confirmer : échanger {item} ({old}) contre ({new}) sur la commande {order_id} ; "
        "{difference}. Je continue ? (oui/non)",
    ),
    "done_exchange": (
        "Done: the exchange on order {order_id} is requested; you'll get an email with the next steps.",
        "Hecho: el cambio del pedido {order_id} está solicitado; recibirá un correo con los pasos "
        "siguientes.",
        "C'est fait : l'échange sur la commande {order_id} est demandé ; vous recevrez un e-mail avec "
        "la suite.",
    ),
    "ask_new_address": (
        "What is the new shipping address for order {order_id}? Please write it as: street, "
        "(apartment,) city, state, zip, country.",
        "¿Cuál es la nueva dirección de envío del pedido {order_id}? Escríbala así: calle, "
        "(apartamento,) ciudad, estado, código postal, país.",
        "Quelle est la nouvelle adresse de livraison de la commande {order_id} ? Écrivez-la ainsi : "
        "rue, (appartement,) ville, état, code postal, pays.",
    ),
    "ask_address": (
        "Order {order_id} is set to ship to {current}. What is the new shipping address? Please "
        "write it as: street, (apartment,) city, state, zip, country.",
        "El pedido {order_id} se enviará a {current}. ¿Cuál es la nueva dirección de envío? "
        "Escríbala así: calle, (apartamento,) ciudad, estado, código postal, país.",
        "La commande {order_id} doit être livrée au {current}. Quelle est la nouvelle adresse de "
        "livraison ? Écrivez-la ainsi : rue, (appartement,) ville, état, code postal, pays.",
    ),
    "confirm_address": (
        "To confirm: ship order {order_id} to {address}. Shall I go ahead? (yes/no)",
        "Para confirmar: enviar el pedido {order_id} a {address}. ¿Continúo? (sí/no)",
        "Pour confirmer : livrer la commande {order_id} à {address}. Je continue ? (oui/non)",
    ),
    "done_address": (
        "Done: order {order_id} will ship to {address}.",
        "Hecho: el pedido {order_id} se enviará a {address}.",
        "C'est fait : la commande {order_id} sera livrée à {address}.",
    ),
    "confirm_reask": (
        "Please answer yes or no. {summary}",
        "Responda sí o no, por favor. {summary}",
        "Répondez par oui ou non, s'il vous plaît. {summary}",
    ),
    "smalltalk_goodbye": (
        "Thanks for getting in touch, and have a great day!",
        "Gracias por escribirnos, ¡que tenga un buen día!",
        "Merci de nous avoir contactés, et bonne journée !",
    ),
    "smalltalk_done": (
        "Glad I could help. Have a great day!",
        "Me alegra haber podido ayudarle. ¡Que tenga un buen día!",
        "Ravi d'avoir pu vous aider. Bonne journée !",
    ),
    "smalltalk_thanks": (
        "You're welcome! Is there anything else I can help you with?",
        "¡De nada! ¿Puedo ayudarle en algo más?",
        "Avec plaisir ! Puis-je vous aider pour autre chose ?",
    ),
    "smalltalk_greeting": (
        "Hi! How can I help you today?",
        "¡Hola! ¿En qué puedo ayudarle hoy?",
        "Bonjour ! Comment puis-je vous aider aujourd'hui ?",
    ),
    "smalltalk_yes": (
        "Sure, what else can I help you with?",
        "Claro, ¿en qué más puedo ayudarle?",
        "Bien sûr, que puis-je faire d'autre pour vous ?",
    ),
    "smalltalk_ack": (
        "Is there anything else I can help you with?",
        "¿Puedo ayudarle en algo más?",
        "Puis-je vous aider pour autre chose ?",
    ),
    "declined_short": (
        "OK, I've left that as it is.",
        "De acuerdo, lo he dejado como estaba.",
        "D'accord, je n'y ai rien changé.",
    ),
    "declined": (
        "OK, I haven't changed anything. Is there anything else I can help with?",
        "De acuerdo, no he cambiado nada. ¿Puedo ayudarle en algo más?",
        "D'accord, je n'ai rien modifié. Puis-je vous aider pour autre chose ?",
    ),
    "return_not_yet_shipped": (
        "I can't return anything from order {order_id} yet: it hasn't shipped, and only delivered "
        "orders can be returned. While it is pending I can change an item in it to another option "
        "of the same product, or cancel the whole order. Which would you like?",
        "No puedo devolver nada del pedido {order_id} todavía: aún no se ha enviado, y solo se "
        "pueden devolver pedidos entregados. "
        "Mientras esté pendiente puedo cambiar un artículo por otra opción del mismo producto, o "
        "cancelar el pedido entero. ¿Qué prefiere?",
        "Je ne peux encore rien retourner de la commande {order_id} : elle n'est pas expédiée, et "
        "seules les commandes livrées peuvent être retournées. "
        "Tant qu'elle est en attente, je peux remplacer un article par une autre option du même "
        "produit, ou annuler toute la commande. Que préférez-vous ?",
    ),
    "refused_status": (
        "I can't do that: order {order_id} {status}, and only orders that {needed} can be "
        "{action}.",
        "No puedo hacerlo: el pedido {order_id} {status}, y solo se puede {action} un pedido "
        "{needed}.",
        "Je ne peux pas le faire : la commande {order_id} {status}, et seule une commande {needed} "
        "peut être {action}.",
    ),
    "refused_gift_card": (
        "I can't do that: your gift card has {balance} on it, not enough to cover {amount}.",
        "No puedo hacerlo: su tarjeta regalo tiene {balance}, no alcanza para cubrir {amount}.",
        "Je ne peux pas le faire : votre carte cadeau a {balance}, pas assez pour couvrir {amount}.",
    ),
    "action_cancelled": ("cancelled", "cancelar", "annulée"),
    "action_modified": ("changed", "modificar", "modifiée"),
    "action_returned": ("returned", "devolver", "retournée"),
    "action_exchanged": ("exchanged", "cambiar", "échangée"),
    "refused": (
        "I can't do that: {reason}",
        "No puedo hacerlo: {reason}",
        "Je ne peux pas le faire : {reason}",
    ),
    "ask_product": (
        "Which product are you asking about?",
        "¿Por qué producto pregunta?",
        "De quel produit parlez-vous ?",
    ),
    "no_product": (
        "I couldn't find that product in our catalog.",
        "No encontré ese producto en nuestro catálogo.",
        "Je n'ai pas trouvé ce produit dans notre catalogue.",
    ),
    "cheapest_in_stock": (
        "The cheapest {name} in stock{matching} is {options}, at {price} ({count} option(s) in "
        "stock).",
        "El {name} más barato disponible{matching} es {options}, a {price} ({count} opción(es) "
        "disponibles).",
        "Le {name} le moins cher en stock{matching} est {options}, à {price} ({count} option(s) en "
        "stock).",
    ),
    "dearest_in_stock": (
        "The most expensive {name} in stock{matching} is {options}, at {price} ({count} option(s) "
        "in stock).",
        "El {name} más caro disponible{matching} es {options}, a {price} ({count} opción(es) "
        "disponibles).",
        "Le {name} le plus cher en stock{matching} est {options}, à {price} ({count} option(s) en "
        "stock).",
    ),
    "in_stock": (
        "{name}: {count} option(s) in stock{matching}, for example {examples}.",
        "{name}: {count} opción(es) disponibles{matching}, por ejemplo {examples}.",
        "{name} : {count} option(s) en stock{matching}, par exemple {examples}.",
    ),
    "out_of_stock": (
        "{name}{matching} is not in stock right now.",
        "{name}{matching} no está disponible ahora mismo.",
        "{name}{matching} n'est pas en stock pour le moment.",
    ),
    "matching": (" matching {options}", " con {options}", " avec {options}"),
    "policy": (
        'Here is what our policy says: "{excerpt}"',
        'Esto dice nuestra política: "{excerpt}"',
        "Voici ce que disent nos conditions : « {excerpt} »",
    ),
    "no_info": (
        "I don't have information about that. Would you like me to connect you with our team?",
        "No tengo información sobre eso. ¿Desea que le ponga en contacto con nuestro equipo?",
        "Je n'ai pas d'information à ce sujet. Voulez-vous que je vous mette en relation avec notre "
        "équipe ?",
    ),
    "complaint": (
        "I'm sorry to hear that. Which order is it about, and what went wrong?",
        "Lamento oír eso. ¿De qué pedido se trata y qué ha ocurrido?",
        "Je suis désolé de l'apprendre. De quelle commande s'agit-il, et que s'est-il passé ?",
    ),
    "escalated": (
        "I'm connecting you with a member of our team (ticket #{ticket_id}). They will reply here in "
        "this conversation.",
        "Le pongo en contacto con un miembro de nuestro equipo (ticket #{ticket_id}). Le responderá "
        "aquí, en esta conversación.",
        "Je vous mets en relation avec un membre de notre équipe (ticket n°{ticket_id}). Il vous "
        "répondra ici, dans cette conversation.",
    ),
    "escalation_failed": (
        "I'm sorry, I couldn't reach our team right now. Please try again in a moment.",
        "Lo siento, no he podido contactar con nuestro equipo. Inténtelo de nuevo en un momento.",
        "Désolé, je n'ai pas pu joindre notre équipe. Réessayez dans un instant.",
    ),
    "awaiting_approval": (
        "This request needs a quick approval from our team; I'll continue as soon as it's reviewed.",
        "Esta solicitud necesita la aprobación de nuestro equipo; continuaré en cuanto la revisen.",
        "Cette demande doit être approuvée par notre équipe ; je continue dès qu'elle est examinée.",
    ),
    "approval_rejected": (
        "Our team could not approve this request{reason}. Is there anything else I can help with?",
        "Nuestro equipo no ha podido aprobar esta solicitud{reason}. ¿Puedo ayudarle en algo más?",
        "Notre équipe n'a pas pu approuver cette demande{reason}. Puis-je vous aider pour autre "
        "chose ?",
    ),
    "approval_edited": (
        "Our team adjusted your request. {summary}",
        "Nuestro equipo ha ajustado su solicitud. {summary}",
        "Notre équipe a ajusté votre demande. {summary}",
    ),
    "safe_fallback": (
        "I'm sorry, I couldn't verify that answer. Would you like me to connect you with our team?",
        "Lo siento, no he podido verificar esa respuesta. ¿Desea que le ponga en contacto con nuestro "
        "equipo?",
        "Désolé, je n'ai pas pu vérifier cette réponse. Voulez-vous que je vous mette en relation avec "
        "notre équipe ?",
    ),
    "diff_pay": (
        "you pay ${amount} more, charged to {pm}",
        "paga {amount} $ más, con cargo a {pm}",
        "vous payez {amount} $ de plus, débités sur {pm}",
    ),
    "diff_refund": (
        "you get ${amount} back, refunded to {pm}",
        "se le devuelven {amount} $, reembolsados a {pm}",
        "vous récupérez {amount} $, remboursés sur {pm}",
    ),
    "ask_difference_pay": (
        "The change you asked for, {changes}, comes to {amount} more than you paid. Which "
        "payment method should I charge the difference to? You paid for the order with "
        "{original}; you also have {others}.",
        "El cambio que pidió, {changes}, suma {amount} más de lo que pagó. ¿Con qué método de "
        "pago cobro la diferencia? Pagó el pedido con {original}; también tiene {others}.",
        "Le changement demandé, {changes}, fait {amount} de plus que ce que vous avez payé. Sur "
        "quel moyen de paiement dois-je débiter la différence ? Vous avez réglé la commande avec "
        "{original} ; vous avez aussi {others}.",
    ),
    "ask_difference_refund": (
        "The change you asked for, {changes}, comes to {amount} less than you paid. Which "
        "payment method should the difference go back to? You paid for the order with "
        "{original}; you also have {others}.",
        "El cambio que pidió, {changes}, suma {amount} menos de lo que pagó. ¿A qué método de "
        "pago le devuelvo la diferencia? Pagó el pedido con {original}; también tiene {others}.",
        "Le changement demandé, {changes}, fait {amount} de moins que ce que vous avez payé. Sur "
        "quel moyen de paiement dois-je rembourser la différence ? Vous avez réglé la commande "
        "avec {original} ; vous avez aussi {others}.",
    ),
    "diff_none": (
        "the price is the same, so nothing is charged or refunded",
        "el precio es el mismo, así que no se cobra ni se reembolsa nada",
        "le prix est le même : rien n'est débité ni remboursé",
    ),
    "refund_not_allowed": (
        "A refund can only go back to the original payment method ({original}){gift}. Which would "
        "you like?",
        "Un reembolso solo puede volver al método de pago original ({original}){gift}. ¿Cuál "
        "prefiere?",
        "Un remboursement ne peut aller que sur le moyen de paiement d'origine ({original}){gift}. "
        "Lequel préférez-vous ?",
    ),
    "ask_user_address_now": (
        "The address on your account is {current}. If it should be different, what is the right "
        "one? Please write it as: street, apartment (if any), city, state, zip code, country.",
        "La dirección de su cuenta es {current}. Si debe ser otra, ¿cuál es la correcta? "
        "Escríbala así: calle, apartamento (si lo hay), ciudad, estado, código postal, país.",
        "L'adresse de votre compte est {current}. Si elle doit être différente, quelle est la bonne "
        "? Écrivez-la ainsi : rue, appartement (le cas échéant), ville, État, code postal, pays.",
    ),
    "ask_user_address": (
        "What is your new address? Please write it as: street, apartment (if any), city, state, zip "
        "code, country.",
        "¿Cuál es su nueva dirección? Escríbala así: calle, apartamento (si lo hay), ciudad, estado, "
        "código postal, país.",
        "Quelle est votre nouvelle adresse ? Écrivez-la ainsi : rue, appartement (le cas échéant), "
        "ville, État, code postal, pays.",
    ),
    "done_user_address": (
        "Done: the address on your account is now {address}.",
        "Hecho: la dirección de su cuenta es ahora {address}.",
        "C'est fait : l'adresse de votre compte est désormais {address}.",
    ),
    "ask_payment_method": (
        "Which payment method should order {order_id} be charged to instead: {methods}?",
        "¿Con qué método de pago desea pagar el pedido {order_id}: {methods}?",
        "Avec quel moyen de paiement souhaitez-vous régler la commande {order_id} : {methods} ?",
    ),
    "done_payment": (
        "Done: order {order_id} is now paid with {pm}.",
        "Hecho: el pedido {order_id} se paga ahora con {pm}.",
        "C'est fait : la commande {order_id} est désormais payée avec {pm}.",
    ),
    "done_modify_items": (
        "Done: the items on order {order_id} are changed.",
        "Hecho: los artículos del pedido {order_id} se han cambiado.",
        "C'est fait : les articles de la commande {order_id} sont modifiés.",
    ),
    "info_balance": (
        "Your gift card balance is ${balance}.",
        "El saldo de su tarjeta regalo es de {balance} $.",
        "Le solde de votre carte cadeau est de {balance} $.",
    ),
    "info_no_gift_card": (
        "You don't have a gift card on your account.",
        "No tiene ninguna tarjeta regalo en su cuenta.",
        "Vous n'avez pas de carte cadeau sur votre compte.",
    ),
    "info_methods": (
        "On your account: {methods}.",
        "En su cuenta: {methods}.",
        "Sur votre compte : {methods}.",
    ),
    "info_address": (
        "The address on your account is {address}.",
        "La dirección de su cuenta es {address}.",
        "L'adresse de votre compte est {address}.",
    ),
    "info_total": (
        "Order {order_id} came to ${total}, paid with {pm}.",
        "El pedido {order_id} sumó {total} $, pagado con {pm}.",
        "La commande {order_id} s'élevait à {total} $, payée avec {pm}.",
    ),
    "info_price": (
        "On order {order_id} you paid {prices}.",
        "En el pedido {order_id} pagó {prices}.",
        "Sur la commande {order_id}, vous avez payé {prices}.",
    ),
    "info_refund_estimate": (
        "Returning {items} from order {order_id} would refund ${amount}, to {original}{gift}. "
        "Nothing has been changed.",
        "Devolver {items} del pedido {order_id} reembolsaría {amount} $, a {original}{gift}. No se "
        "ha cambiado nada.",
        "Retourner {items} de la commande {order_id} rembourserait {amount} $, sur {original}{gift}. "
        "Rien n'a été modifié.",
    ),
    "info_contents": (
        "Order {order_id} ({status}) holds: {items}.",
        "El pedido {order_id} ({status}) contiene: {items}.",
        "La commande {order_id} ({status}) contient : {items}.",
    ),
    "anything_else": (
        "Is there anything else I can help you with?",
        "¿Puedo ayudarle en algo más?",
        "Puis-je vous aider pour autre chose ?",
    ),
    "already_done": (
        "That's already taken care of for order {order_id}. Is there anything else I can help you "
        "with?",
        "Eso ya está hecho para el pedido {order_id}. ¿Puedo ayudarle en algo más?",
        "C'est déjà fait pour la commande {order_id}. Puis-je vous aider pour autre chose ?",
    ),
    "said_again": (
        "Sorry, I may not have been clear. ",
        "Disculpe, quizá no me expliqué bien. ",
        "Pardon, je n'ai peut-être pas été clair. ",
    ),
    "pm_card": (
        "your {brand} ending {last_four}",
        "su {brand} terminada en {last_four}",
        "votre {brand} se terminant par {last_four}",
    ),
    "pm_card_plain": ("your credit card", "su tarjeta de crédito", "votre carte bancaire"),
    "pm_paypal": ("your PayPal account", "su cuenta PayPal", "votre compte PayPal"),
    "pm_gift_card": ("your gift card", "su tarjeta regalo", "votre carte cadeau"),
    "pm_gift_card_balance": (
        "your gift card (balance ${balance})",
        "su tarjeta regalo (saldo {balance} $)",
        "votre carte cadeau (solde {balance} $)",
    ),
    "pm_other": ("that payment method", "ese método de pago", "ce moyen de paiement"),
    "confirm_modify_items": (
        "To confirm: on order {order_id}, change {changes}; {difference}. Shall I go ahead? (yes/no)",
        "Para confirmar: en el pedido {order_id}, cambiar {changes}; {difference}. ¿Continúo? "
        "(sí/no)",
        "Pour confirmer : sur la commande {order_id}, changer {changes} ; {difference}. Je continue "
        "? (oui/non)",
    ),
    "confirm_payment_change": (
        "To confirm: pay order {order_id} with {pm} instead. Shall I go ahead? (yes/no)",
        "Para confirmar: pagar el pedido {order_id} con {pm}. ¿Continúo? (sí/no)",
        "Pour confirmer : régler la commande {order_id} avec {pm}. Je continue ? (oui/non)",
    ),
    "confirm_user_address": (
        "To confirm: change the address on your account to {address}. Shall I go ahead? (yes/no)",
        "Para confirmar: cambiar la dirección de su cuenta a {address}. ¿Continúo? (sí/no)",
        "Pour confirmer : remplacer l'adresse de votre compte par {address}. Je continue ? "
        "(oui/non)",
    ),
    "confirm_change": (
        "To confirm: I'll make this change on order {order_id}. Shall I go ahead? (yes/no)",
        "Para confirmar: haré este cambio en el pedido {order_id}. ¿Continúo? (sí/no)",
        "Pour confirmer : j'effectue cette modification sur la commande {order_id}. Je continue ? "
        "(oui/non)",
    ),
    "order_items": (
        " Items: {items}.",
        " Artículos: {items}.",
        " Articles : {items}.",
    ),
    "account_found": (
        "I have your account details, {name}: {orders} order(s) on file.",
        "Tengo los datos de su cuenta, {name}: {orders} pedido(s) registrados.",
        "J'ai les informations de votre compte, {name} : {orders} commande(s) enregistrée(s).",
    ),
    "products_found": (
        "Here is what I found: {names}.",
        "Esto es lo que he encontrado: {names}.",
        "Voici ce que j'ai trouvé : {names}.",
    ),
    "found": (
        "Here is what I found: {summary}",
        "Esto es lo que he encontrado: {summary}",
        "Voici ce que j'ai trouvé : {summary}",
    ),
    "handed_back": (
        "I'm back to help. What else can I do for you?",
        "Vuelvo a estar a su disposición. ¿En qué más puedo ayudarle?",
        "Je suis de retour. Que puis-je faire d'autre pour vous ?",
    ),
}


def render(key: str, language: str = "en", **values: Any) -> str:
    """Template ``key`` in ``language`` (English when it has no translation), filled with ``values``."""
    variants = _T[key]
    index = LANGUAGES.index(language) if language in LANGUAGES else 0
    return variants[index].format(**values)


def template_keys() -> list[str]:
    return sorted(_T)
