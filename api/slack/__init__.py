"""Slack for the shop's support staff: new tickets posted to a channel with claim / approve / reject
buttons, a copilot (slash command and message shortcut) and thread replies that reach the customer.
On when ``CONCIERGE_SLACK_BOT_TOKEN`` and ``CONCIERGE_SLACK_SIGNING_SECRET`` are set."""

from api.slack.copilot import (
    Briefing,
    BriefingError,
    Suggestion,
    Target,
    brief,
    parse_target,
    suggest,
)
from api.slack.desk import SHORTCUT, SlackDesk, Tasks, mount
from api.slack.verify import WINDOW_S, RequestGuard

__all__ = [
    "SHORTCUT",
    "WINDOW_S",
    "Briefing",
    "BriefingError",
    "RequestGuard",
    "SlackDesk",
    "Suggestion",
    "Target",
    "Tasks",
    "brief",
    "mount",
    "parse_target",
    "suggest",
]
