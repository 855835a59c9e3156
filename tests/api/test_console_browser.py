"""The human agents' console and the API docs in a real headless Chromium (Debian's, driven by
Playwright) against a real uvicorn server on a loopback port: the real agent without an LLM over a
tau2 shop, customers handed off through the chat API.

Skipped only where Chromium or Playwright is missing and ``CI`` is unset; in CI they must be there."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from agent import Agent, Context, open_checkpointer
from api.app import create_app
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.agent.conftest import QUIET
from tests.api.browser import chromium, serve
from tests.api.conftest import api_settings, signed_identity
from tests.conftest import StoreFactory
from tools.models import Customer, Ticket, utcnow
from tools.store import Store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Route

pytestmark = pytest.mark.browser

DANA_KEY = "console-browser-dana-key"
SAM_KEY = "console-browser-sam-key"
TIMEOUT_MS = 20_000
VIP_SPEND = 1000.0


@dataclass
class Desk:
    url: str
    store: Store


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, api_classifier: Classifier, api_kb: KnowledgeBase
) -> Iterator[Desk]:
    """The app with Dana's administrator key and Sam's agent key over a fresh tau2 shop, where a
    lifetime spend of $1,000 makes a VIP."""
    tmp = tmp_path_factory.mktemp("console")
    store = StoreFactory("sqlite", tmp)("tau2")
    checkpointer = open_checkpointer(f"sqlite:///{tmp / 'checkpoints.db'}")
    knobs: dict[str, Any] = {**QUIET, "vip_spend": VIP_SPEND}
    agent = Agent(
        Context(store=store, classifier=api_classifier, kb=api_kb, **knobs), checkpointer.saver
    )
    settings = api_settings(tmp, api_agent_keys=[SAM_KEY], api_admin_keys=[DANA_KEY])
    try:
        with serve(create_app(settings, agent=agent)) as url:
            yield Desk(url, store)
    finally:
        checkpointer.close()
        store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@contextmanager
def open_page(browser: Browser, url: str) -> Iterator[Page]:
    """A fresh browser context (its own sessionStorage) on ``url``; no JavaScript errors allowed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def expect_visible(locator: Locator) -> None:
    locator.wait_for(state="visible", timeout=TIMEOUT_MS)


def sign_in(page: Page, name: str, key: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in", exact=True).click()


def customer_with_orders(store: Store, *, vip: bool) -> tuple[Customer, list[str]]:
    """A customer with two orders or more who is a VIP (spent $1,000 or more) or not."""
    with store.read() as s:
        for customer in s.scalars(select(Customer).order_by(Customer.id)):
            spent = sum(
                (1 if t.transaction_type == "payment" else -1) * t.amount_cents / 100
                for o in customer.orders
                for t in o.transactions
            )
            if len(customer.orders) >= 2 and (spent >= VIP_SPEND) is vip:
                orders = [o.id for o in customer.orders]
                s.expunge(customer)
                return customer, orders
    raise AssertionError("no such customer in the tau2 shop")


def hand_off(url: str, customer_id: str | None, *texts: str) -> tuple[str, dict[str, str], int]:
    """A chat where the customer wrote ``texts`` and asked for a person: its id, auth and ticket."""
    with httpx.Client(base_url=url, timeout=30) as client:
        body = signed_identity(customer_id) if customer_id else None
        started = client.post("/v1/conversations", json=body)
        assert started.status_code == 201, started.text
        cid = started.json()["conversation_id"]
        auth = {"Authorization": f"Bearer {started.json()['token']}"}
        for text in [*texts, "I want to talk to a human"]:
            r = client.post(f"/v1/conversations/{cid}/messages", json={"text": text}, headers=auth)
            assert r.status_code == 200, r.text
        assert r.json()["handed_off"], r.text
        return cid, auth, int(r.json()["ticket_id"])


def opened_ago(store: Store, ticket_id: int, ago: timedelta) -> None:
    with store.write() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.created_at = utcnow() - ago


def test_signing_in_where_no_staff_keys_are_configured_says_which_setting_to_set(
    browser: Browser, tmp_path: Path, api_classifier: Classifier, api_kb: KnowledgeBase
) -> None:
    store = StoreFactory("sqlite", tmp_path)("empty")
    checkpointer = open_checkpointer(f"sqlite:///{tmp_path / 'checkpoints.db'}")
    agent = Agent(Context(store=store, classifier=api_classifier, kb=api_kb), checkpointer.saver)
    app = create_app(api_settings(tmp_path), agent=agent)
    try:
        with serve(app) as url, open_page(browser, url + "/console") as page:
            sign_in(page, "Dana", "some-key-someone-gave-me")
            alert = page.get_by_role("alert")
            expect_visible(alert)
            text = alert.inner_text()
            assert "no staff API keys configured" in text
            assert "CONCIERGE_API_AGENT_KEYS" in text and "CONCIERGE_API_ADMIN_KEYS" in text
            assert page.get_by_role("button", name="Sign in", exact=True).is_visible()
    finally:
        checkpointer.close()
        store.dispose()


def test_the_queue_shows_customers_wants_waits_and_colleagues_by_name(
    browser: Browser, desk: Desk
) -> None:
    vip, vip_orders = customer_with_orders(desk.store, vip=True)
    regular, _ = customer_with_orders(desk.store, vip=False)
    _, _, returning = hand_off(desk.url, vip.id, f"I want to return all items of {vip_orders[0]}")
    _, _, cancelling = hand_off(desk.url, regular.id, "I'd like to cancel an order")
    _, _, fresh = hand_off(desk.url, None)
    opened_ago(desk.store, returning, timedelta(minutes=4, seconds=10))
    opened_ago(desk.store, cancelling, timedelta(hours=2, minutes=5))
    # Sam signs in elsewhere (the API) and holds the new one.
    with httpx.Client(base_url=desk.url, timeout=10, headers={"X-API-Key": SAM_KEY}) as sam:
        assert sam.post("/v1/agent/sign-in", json={"name": "Sam"}).status_code == 200
        assert sam.post(f"/v1/agent/tickets/{fresh}/claim").status_code == 200

    with open_page(browser, desk.url + "/console") as page:
        sign_in(page, "Dana", DANA_KEY)
        expect_visible(page.get_by_text("Signed in as Dana (administrator)"))
        first = page.locator(f'button[data-ticket="{returning}"]')
        expect_visible(first)
        text = first.inner_text()
        assert f"{vip.first_name} {vip.last_name}" in text
        assert "VIP" in text
        assert "Return an item" in text and "return_item" not in text
        assert "I want to talk to a human" in text
        assert re.search(r"severity \d \((very low|low|medium|high|critical)\)", text)
        assert "waiting since 4 min ago" in text
        assert "not claimed" in text

        second = page.locator(f'button[data-ticket="{cancelling}"]').inner_text()
        assert f"{regular.first_name} {regular.last_name}" in second
        assert "VIP" not in second and "Cancel an order" in second
        assert "waiting since 2 h ago" in second

        first.click()
        expect_visible(page.get_by_role("heading", name=f"Ticket #{returning} (handoff)"))
        page.get_by_role("button", name="Claim", exact=True).click()
        page.wait_for_function(
            "() => document.getElementById('ticket-meta').textContent.includes('claimed by you')"
        )
        assert "opened 4 min ago" in page.locator("#ticket-meta").inner_text()

        page.get_by_role("button", name="Refresh").click()
        mine = page.locator(f'button[data-ticket="{returning}"]')
        page.wait_for_function(
            f"() => document.querySelector('button[data-ticket=\"{returning}\"]')"
            ".textContent.includes('claimed by you')"
        )
        sams = page.locator(f'button[data-ticket="{fresh}"]').inner_text()
        assert "claimed by Sam" in sams and "just now" in sams
        assert "claimed by you" in mine.inner_text()
        body = page.locator("body").inner_text()
        assert "staff-" not in body and DANA_KEY not in body

    with open_page(browser, desk.url + "/console") as page:
        sign_in(page, "Sam", SAM_KEY)
        expect_visible(page.get_by_text("Signed in as Sam (agent)"))
        held = page.locator(f'button[data-ticket="{fresh}"]')
        expect_visible(held)
        assert "claimed by you" in held.inner_text()
        # Dana's claim is not Sam's to see (an agent sees the open tickets and their own).
        assert page.locator(f'button[data-ticket="{returning}"]').count() == 0
        assert "staff-" not in page.locator("body").inner_text()


def test_a_ticket_shows_the_customers_orders_and_a_suggested_reply_to_edit_and_send(
    browser: Browser, desk: Desk
) -> None:
    customer, orders = customer_with_orders(desk.store, vip=False)
    _, others = customer_with_orders(desk.store, vip=True)
    cid, auth, ticket_id = hand_off(
        desk.url,
        customer.id,
        f"Where are {orders[0]} and {orders[1]}? And {others[0]}?",
        "What is your return policy for a gift?",
    )
    with open_page(browser, desk.url + "/console") as page:
        sign_in(page, "Dana", DANA_KEY)
        page.locator(f'button[data-ticket="{ticket_id}"]').click()
        expect_visible(page.get_by_role("heading", name=f"Ticket #{ticket_id} (handoff)"))

        shown = page.get_by_role("list", name="Orders mentioned")
        expect_visible(shown.get_by_text(orders[0]))
        assert orders[1] in shown.inner_text()
        assert others[0] not in shown.inner_text()
        identity = page.locator("#identity").inner_text()
        assert f"{customer.first_name} {customer.last_name}" in identity

        conversation = page.get_by_role("list", name="Conversation", exact=True)
        said = conversation.locator("li.customer").all_inner_texts()
        assert len(said) == 3 and f"And {others[0]}?" in said[0]

        reply_box = page.get_by_label("Reply", exact=True)
        page.wait_for_function("() => document.getElementById('reply-text').value !== ''")
        suggested = reply_box.input_value()
        assert suggested == page.locator("#suggestion").inner_text()
        sources = page.get_by_role("list", name="Sources")
        cited = sources.locator("li", has_text="(cited)")
        expect_visible(cited.first)
        ref = cited.first.get_attribute("data-ref")
        assert ref and f"[{ref}]" in suggested

        edited = suggested + " I have also passed this to our returns team."
        reply_box.fill(edited)
        page.get_by_role("button", name="Send reply").click()
        page.get_by_role("status").get_by_text("Reply sent.").wait_for()
        expect_visible(conversation.locator("li.agent").last)
        assert (
            "passed this to our returns team" in conversation.locator("li.agent").last.inner_text()
        )

    with httpx.Client(base_url=desk.url, timeout=10) as client:
        messages = client.get(f"/v1/conversations/{cid}/messages", headers=auth).json()
    last = messages["messages"][-1]
    assert (last["role"], last["agent"]) == ("agent", "Dana")
    assert last["text"].endswith("I have also passed this to our returns team.")


def test_the_api_docs_load_without_reaching_any_other_site(browser: Browser, desk: Desk) -> None:
    """Everything but this server is unreachable, as offline: Swagger UI at /docs asks for nothing
    else, ReDoc at /redoc only for its maker's logo (an image), and both show the API."""
    elsewhere: dict[str, list[tuple[str, str]]] = {}

    def only_this_server(asked: list[tuple[str, str]]) -> Callable[[Route], None]:
        def handle(route: Route) -> None:
            if route.request.url.startswith(desk.url + "/"):
                route.continue_()
            else:
                asked.append((route.request.resource_type, route.request.url))
                route.abort()

        return handle

    for path, title in [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")]:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", only_this_server(elsewhere.setdefault(path, [])))
        page = context.new_page()
        page.goto(desk.url + path)
        heading = page.locator(title).first
        expect_visible(heading)
        assert "concierge" in heading.inner_text()
        if path == "/docs":
            operation = page.locator('[data-path="/v1/agent/tickets/{ticket_id}/suggestion"]')
        else:
            operation = page.locator("h2", has_text="Suggested Reply")
        expect_visible(operation.first)
        context.close()
    assert elsewhere["/docs"] == []
    assert all(kind == "image" for kind, _ in elsewhere["/redoc"]), elsewhere["/redoc"]
