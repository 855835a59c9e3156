"""Slack messages in Block Kit: a ticket posted to the escalation channel, and a copilot briefing.
Also the way back: a Slack message's markup turned into the plain text a customer reads."""

from __future__ import annotations

import html
import re
from typing import Any

from api.slack.copilot import Briefing

CLAIM = "concierge_claim"
APPROVE = "concierge_approve"
REJECT = "concierge_reject"
OPEN = "concierge_open"
"""Action ids of the ticket message's buttons; each button's value is the ticket's number."""

TICKET_EVENT = "concierge_ticket"
"""The ``event_type`` of the metadata a ticket message carries: ``ticket_id``, ``conversation_id``."""

_SECTION_LIMIT = 2900  # Slack refuses section text over 3000 characters.
_MENTION = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^>|]+)(?:\|([^>]*))?>")


def _cut(text: str, limit: int = _SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    """Text shown in mrkdwn as written (Slack reads &, < and > as markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text)}}


def _button(text: str, action_id: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
        **extra,
    }


def ticket_message(
    ticket: dict[str, Any],
    handoff: dict[str, Any] | None,
    approval: dict[str, Any] | None,
    *,
    console_url: str | None = None,
    outcome: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and blocks of a ticket in the escalation channel. Buttons: claim, approve /
    reject while a write waits for approval, and a link to the console; ``outcome`` (a decision
    taken) replaces the approval buttons."""
    number = ticket["ticket_id"]
    headline = f"Ticket #{number}: {ticket['kind']}, severity {ticket['severity']}"
    reasons = ", ".join((handoff or {}).get("reasons", [])) or "none given"
    fields = [
        f"*Customer*\n{_escape(ticket['customer_id'] or 'not verified')}",
        f"*Order*\n{_escape(ticket['order_id'] or _orders_named(handoff) or 'none')}",
        f"*Severity*\n{ticket['severity']}",
        f"*Reasons*\n{_escape(reasons)}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
        _section(_escape(ticket["summary"])),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if approval is not None:
        amount = float(approval.get("amount") or 0.0)
        blocks.append(
            _section(
                f"*Waiting for approval:* `{_escape(str(approval.get('tool')))}` for "
                f"${amount:.2f}\n{_escape(str(approval.get('summary', '')))}"
            )
        )
    value = str(number)
    buttons = [_button("Claim", CLAIM, value)]
    if approval is not None and outcome is None:
        buttons.append(
            _button(
                "Approve",
                APPROVE,
                value,
                style="primary",
                confirm={
                    "title": {"type": "plain_text", "text": "Approve this write?"},
                    "text": {"type": "plain_text", "text": str(approval.get("summary", ""))[:300]},
                    "confirm": {"type": "plain_text", "text": "Approve"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            )
        )
        buttons.append(_button("Reject", REJECT, value, style="danger"))
    if console_url:
        buttons.append(_button("Open in console", OPEN, value, url=console_url))
    blocks.append({"type": "actions", "block_id": f"ticket-{number}", "elements": buttons})
    if outcome is not None:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]})
    conversation = ticket["conversation_id"]
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Conversation `{conversation}`. Reply in this thread to write to the "
                    "customer."
                    if conversation
                    else "No conversation.",
                }
            ],
        }
    )
    return f"{headline}. {ticket['summary']}"[:3000], blocks


def _orders_named(handoff: dict[str, Any] | None) -> str:
    return ", ".join(o["order_id"] for o in (handoff or {}).get("orders", []))


def briefing_blocks(briefing: Briefing) -> tuple[str, list[dict[str, Any]]]:
    """The copilot's answer: summary, suggested reply with its citations, passages, orders."""
    reply = "\n".join(f"> {line}" for line in _escape(briefing.suggested_reply).splitlines())
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": briefing.title[:150]}},
        _section(f"*Summary*\n{_escape(briefing.summary)}"),
        _section(f"*Suggested reply*\n{reply}"),
    ]
    if briefing.citations:
        cited = ", ".join(f"`{_escape(ref)}`" for ref in briefing.citations)
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Cites {cited}"}]}
        )
    if briefing.passages:
        lines = [
            f"• *{_escape(p['title'] or p['ref'])}* `{_escape(p['ref'])}`\n{_escape(p['excerpt'])}"
            for p in briefing.passages
        ]
        blocks.append(_section("*Knowledge*\n" + "\n".join(lines)))
    else:
        blocks.append(_section("*Knowledge*\nNo passage found."))
    if briefing.orders:
        lines = [
            f"• `{_escape(o['order_id'])}` {_escape(o['status'])}, {o['items']} item(s), "
            f"${o['total']:.2f}"
            for o in briefing.orders
        ]
        blocks.append(
            _section(f"*Orders of {_escape(briefing.customer_id or '')}*\n" + "\n".join(lines))
        )
    else:
        who = "the customer is not verified" if briefing.customer_id is None else "none"
        blocks.append(_section(f"*Orders*\n{who}"))
    text = f"{briefing.title}: {briefing.summary}\nSuggested reply: {briefing.suggested_reply}"
    return text[:3000], blocks


def plain_text(text: str) -> str:
    """What a Slack message says without its markup: links as their address (with their label),
    mentions as their label, entities unescaped."""

    def link(match: re.Match[str]) -> str:
        url, label = match.group(1), match.group(2)
        address = url.removeprefix("mailto:")
        return f"{label} ({address})" if label and label != address else address

    def mention(match: re.Match[str]) -> str:
        return match.group(3) or ""

    return html.unescape(_MENTION.sub(mention, _LINK.sub(link, text))).strip()
