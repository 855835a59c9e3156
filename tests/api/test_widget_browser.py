"""The chat widget in a real headless Chromium (Debian's, driven by Playwright) against a real uvicorn
server on a loopback port: the real agent without an LLM, the seeded demo shop, the demo page at ``/``.

Skipped only where Chromium or Playwright is missing and ``CI`` is unset; in CI they must be there."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from agent import Agent, Context, open_checkpointer
from api.app import create_app
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.agent.conftest import QUIET, find_order
from tests.api.browser import chromium, serve
from tests.api.conftest import WIDGET_ORIGIN, api_settings, signed_identity
from tests.conftest import StoreFactory
from tools.demo import seed_demo_shop
from tools.store import Store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

AGENT_KEY = "widget-test-agent-key"
TIMEOUT_MS = 20_000


class ShopSite(ThreadingHTTPServer):
    """A shop's own site on another loopback port (another origin): serves the pages a test sets."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ShopPage)
        self.pages: dict[str, str] = {}
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"


class _ShopPage(BaseHTTPRequestHandler):
    server: ShopSite

    def do_GET(self) -> None:
        page = self.server.pages.get(self.path)
        body = (page or "not found").encode()
        self.send_response(200 if page else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class LiveServer:
    url: str
    shop: ShopSite
    agent: Agent
    store: Store


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, api_classifier: Classifier, api_kb: KnowledgeBase
) -> Iterator[LiveServer]:
    """The app served by uvicorn in a background thread, over a fresh demo shop."""
    tmp = tmp_path_factory.mktemp("widget")
    store = StoreFactory("sqlite", tmp)("empty")
    seed_demo_shop(store)
    checkpointer = open_checkpointer(f"sqlite:///{tmp / 'checkpoints.db'}")
    knobs: dict[str, Any] = dict(QUIET)
    agent = Agent(
        Context(store=store, classifier=api_classifier, kb=api_kb, **knobs), checkpointer.saver
    )
    shop = ShopSite()
    shop_thread = threading.Thread(target=shop.serve_forever, daemon=True)
    shop_thread.start()
    settings = api_settings(
        Path(tmp), api_agent_keys=[AGENT_KEY], api_cors_origins=[WIDGET_ORIGIN, shop.origin]
    )
    try:
        with serve(create_app(settings, agent=agent)) as url:
            yield LiveServer(url, shop, agent, store)
    finally:
        shop.shutdown()
        shop.server_close()
        checkpointer.close()
        store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context (its own sessionStorage) on a desktop-sized window."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server.url + "/")
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def open_chat(
    page: Page,
    launcher: str = "Chat with us",
    title: str | re.Pattern[str] = re.compile("support", re.I),
) -> None:
    page.get_by_role("button", name=launcher).click()
    expect_visible(page.get_by_role("dialog", name=title))


def expect_visible(locator: Locator) -> None:
    locator.wait_for(state="visible", timeout=TIMEOUT_MS)


def say(page: Page, text: str, box_label: str = "Message") -> None:
    """Type a message and send it with Enter, then wait until the answer has finished."""
    before = page.locator(".message").count()
    box = page.get_by_role("textbox", name=box_label)
    box.fill(text)
    box.press("Enter")
    wait_for_answer(page, before)


def wait_for_answer(page: Page, before: int) -> None:
    """Wait until the log shows more than ``before`` messages and the widget is no longer busy."""
    page.wait_for_function(
        """([before]) => {
            const root = document.getElementById('concierge-widget').shadowRoot;
            return root.querySelectorAll('.message').length > before
                && !root.querySelector('.send').disabled;
        }""",
        arg=[before],
        timeout=TIMEOUT_MS,
    )


def bot_texts(page: Page) -> list[str]:
    return page.locator(".message.concierge .text").all_inner_texts()


def conversation_id(page: Page) -> str:
    stored: Any = page.evaluate(
        "() => JSON.parse(Object.entries(sessionStorage).find(([k]) => k.endsWith(':anonymous'))[1])"
    )
    return str(stored["id"])


def staff_client(live_server: LiveServer) -> httpx.Client:
    """The human agents' API, with the staff key."""
    auth = {"Authorization": f"Bearer {AGENT_KEY}"}
    return httpx.Client(base_url=live_server.url, headers=auth, timeout=10)


def handoff_ticket(live_server: LiveServer, cid: str) -> int:
    """The open ticket of the handed-off conversation ``cid``."""
    with staff_client(live_server) as client:
        queue = client.get("/v1/agent/tickets", params={"status": "open"}).json()["tickets"]
    [ticket] = [t for t in queue if t["conversation_id"] == cid]
    return int(ticket["ticket_id"])


def reply_as_person(live_server: LiveServer, ticket_id: int, text: str, name: str = "Dana") -> None:
    """A human agent's reply on the ticket: the widget picks it up by polling the history."""
    with staff_client(live_server) as client:
        r = client.post(f"/v1/agent/tickets/{ticket_id}/reply", json={"text": text, "name": name})
    assert r.status_code == 200, r.text


@contextmanager
def shop_page(
    browser: Browser,
    live_server: LiveServer,
    *,
    attrs: str = "",
    html: str = '<html lang="en">',
    head: str = "",
    api: str | None = None,
    origin: str | None = None,
) -> Iterator[Page]:
    """A page of the shop's own site (by default at its allowed origin) that embeds the widget,
    with ``attrs`` on the script tag and ``head`` in the page's head."""
    path = f"/page-{len(live_server.shop.pages)}"
    live_server.shop.pages[path] = f"""<!doctype html>{html}<head><title>A shop</title>{head}</head>
        <body><h1>A shop</h1>
        <script src="{live_server.url}/widget.js" data-api="{api or live_server.url}" {attrs}
            defer></script>
        </body></html>"""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{origin or live_server.shop.origin}{path}")
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def test_a_policy_question_gets_a_streamed_answer_with_citation_links(page: Page) -> None:
    open_chat(page)
    focused = page.evaluate(
        "() => document.getElementById('concierge-widget').shadowRoot.activeElement.id"
    )
    assert focused == "cw-input"  # opening the chat puts the cursor in the message box
    log = page.get_by_role("log", name="Conversation")
    assert log.get_attribute("aria-live") == "polite"

    with page.expect_response(re.compile(r"/messages/stream$")) as streamed:
        say(page, "What is your return policy?")
    assert streamed.value.headers["content-type"].startswith("text/event-stream")
    answer = page.locator(".message.concierge").last
    assert "return" in answer.inner_text().lower()
    assert ".md" not in answer.locator(".text").inner_text()  # the sources are links, not markers
    sources = answer.get_by_role("list", name="Sources").locator("li").all_inner_texts()
    assert sources and len(set(sources)) == len(sources)  # one line per cited section
    links = answer.locator("a[href*='/help/demo/returns-and-refunds.md']")
    assert links.count() >= 1
    href = links.first.get_attribute("href")
    assert href is not None and links.first.get_attribute("rel") == "noopener noreferrer"
    # The link lands on the cited section of the policy.
    target, _, anchor = href.partition("#")
    help_page = page.context.new_page()
    help_page.goto(href)
    assert help_page.locator(f"[id='{anchor}']").count() == 1 and target.endswith(".md")
    help_page.close()


def test_messages_are_shown_as_text_never_as_html(page: Page) -> None:
    open_chat(page)
    probe = '<img src="x" onerror="window.injected = 1"><b>bold</b>'
    say(page, probe)
    mine = page.locator(".message.customer .text").last
    assert mine.inner_text() == probe
    assert page.locator(".message img, .message b").count() == 0
    assert page.evaluate("() => window.injected") is None


def test_an_anonymous_customer_signs_in_and_sees_an_order_then_reloads(page: Page) -> None:
    # The demo page names a demo customer and their order: what a visitor would type.
    hint = page.locator(".try").inner_text()
    match = re.search(r"Where is my order (\S+)\?", hint)
    email = page.locator(".try code").inner_text()
    assert match and "@" in email
    order_id = match.group(1)

    open_chat(page)
    say(page, f"Where is my order {order_id}?")
    assert "email" in bot_texts(page)[-1].lower()
    say(page, f"my email is {email}")
    reply = bot_texts(page)[-1]
    assert order_id in reply and "delivered" in reply.lower()

    shown = page.locator(".message").all_inner_texts()
    page.reload()
    # Same tab: the conversation and the open panel carry on.
    expect_visible(page.get_by_role("dialog", name=re.compile("support", re.I)))
    page.wait_for_function(
        "([n]) => document.getElementById('concierge-widget').shadowRoot"
        ".querySelectorAll('.message').length >= n",
        arg=[len(shown)],
    )
    assert page.locator(".message").all_inner_texts() == shown
    texts = page.locator(".message .text").all_inner_texts()
    assert texts[0] == f"Where is my order {order_id}?" and order_id in texts[-1]


def test_asking_for_a_human_shows_the_handoff_and_the_humans_reply(
    page: Page, live_server: LiveServer
) -> None:
    open_chat(page)
    say(page, "I want to talk to a human")
    banner = page.get_by_role("status")
    expect_visible(banner)
    assert "a person will answer here" in banner.inner_text().lower()

    ticket_id = handoff_ticket(live_server, conversation_id(page))
    reply_as_person(live_server, ticket_id, "Hi, this is Dana from support. <b>How can I help?</b>")

    human = page.locator(".message.agent")
    expect_visible(human)  # arrives by the widget's poll of the history
    assert (
        human.locator(".text").inner_text()
        == "Hi, this is Dana from support. <b>How can I help?</b>"
    )
    assert "Dana" in human.locator(".who").inner_text()
    # While a person has the conversation the bot stays silent.
    bot_said = page.locator(".message.concierge").count()
    say(page, "thanks, my order never arrived")
    assert page.locator(".message.concierge").count() == bot_said
    assert banner.is_visible()

    # Handed back to the bot: the next poll ends the handoff state and shows the bot's word.
    with staff_client(live_server) as client:
        r = client.post(f"/v1/agent/tickets/{ticket_id}/hand-back")
        assert r.status_code == 200, r.text
    banner.wait_for(state="hidden", timeout=TIMEOUT_MS)
    assert page.locator(".message.concierge").count() == bot_said + 1


def test_the_widget_fits_a_phone(browser: Browser, live_server: LiveServer) -> None:
    width, height = 375, 667
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(live_server.url + "/")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width

    launcher = page.get_by_role("button", name="Chat with us")
    box = launcher.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert box["y"] + box["height"] <= height and box["height"] >= 44  # a thumb-sized target
    launcher.tap()
    panel = page.get_by_role("dialog", name=re.compile("support", re.I))
    expect_visible(panel)
    frame = panel.bounding_box()
    assert frame == {"x": 0, "y": 0, "width": width, "height": height}  # the whole screen
    for control in (
        page.get_by_role("textbox", name="Message"),
        page.get_by_role("button", name="Send"),
    ):
        rect = control.bounding_box()
        assert rect and rect["x"] >= 0 and rect["x"] + rect["width"] <= width
        assert rect["y"] + rect["height"] <= height and rect["height"] >= 44
    say(page, "What is your return policy?")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    last = page.locator(".message.concierge").last.bounding_box()
    assert last and last["x"] + last["width"] <= width

    # Closing hands focus back to the launcher, which the full-screen panel had covered.
    page.get_by_role("button", name="Close chat").tap()
    assert panel.is_hidden() and launcher.is_visible()
    context.close()


def test_escape_closes_the_chat_and_focus_returns_to_the_launcher(page: Page) -> None:
    open_chat(page)
    box = page.get_by_role("dialog", name=re.compile("support", re.I)).bounding_box()
    assert box and box["width"] <= 380  # a panel in the corner on a desktop, not the whole window
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog", name=re.compile("support", re.I)).is_hidden()
    launcher = page.get_by_role("button", name="Chat with us")
    assert launcher.get_attribute("aria-expanded") == "false"
    focused = page.evaluate(
        "() => document.getElementById('concierge-widget').shadowRoot.activeElement?.className"
    )
    assert focused == "launcher"


def open_shop_page(browser: Browser, live_server: LiveServer, identity: dict[str, Any]) -> Page:
    """A page of the shop's own site (another origin) embedding the widget with ``identity``, as
    the shop's server signed it, with the chat open."""
    shop_page = f"""<!doctype html><html lang="en"><head><title>A shop</title></head><body>
        <h1>A shop</h1>
        <script src="{live_server.url}/widget.js" data-api="{live_server.url}"
            data-customer-id="{identity["customer_id"]}" data-issued-at="{identity["issued_at"]}"
            data-signature="{identity["signature"]}" defer></script>
        </body></html>"""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    live_server.shop.pages["/account"] = shop_page
    page = context.new_page()
    page.goto(f"{live_server.shop.origin}/account")
    open_chat(page)
    return page


def test_a_shop_embeds_the_widget_for_its_signed_in_customer(
    browser: Browser, live_server: LiveServer
) -> None:
    """On the shop's own origin, with the customer's signed identity: no sign-in in the chat."""
    order, customer = find_order(live_server.store, "delivered", index=1)
    page = open_shop_page(browser, live_server, signed_identity(customer.id))
    say(page, f"Where is my order {order.id}?")
    reply = bot_texts(page)[-1]
    assert order.id in reply and "delivered" in reply.lower()
    assert "email" not in reply.lower()
    stored = page.evaluate("() => Object.keys(sessionStorage)")
    assert f"concierge:{live_server.url}:{customer.id}" in stored
    page.context.close()


def test_a_page_open_past_its_identitys_age_chats_as_a_guest(
    browser: Browser, live_server: LiveServer
) -> None:
    """The identity was signed two hours before the first message: the chat goes on anonymously,
    says why, and keeps that conversation apart from the customer's signed-in ones."""
    order, customer = find_order(live_server.store, "delivered", index=2)
    page = open_shop_page(
        browser, live_server, signed_identity(customer.id, int(time.time()) - 7200)
    )
    say(page, f"Where is my order {order.id}?")
    assert "reload the page" in page.get_by_role("alert").inner_text().lower()
    assert "email" in bot_texts(page)[-1].lower()  # the agent asks who the customer is
    stored = page.evaluate("() => Object.keys(sessionStorage)")
    assert f"concierge:{live_server.url}:anonymous" in stored
    assert f"concierge:{live_server.url}:{customer.id}" not in stored
    page.context.close()


def test_an_agent_claims_and_answers_a_handoff_from_the_console(
    browser: Browser, live_server: LiveServer
) -> None:
    """The console at /console: a wrong key is refused as text, the handed-off ticket is listed,
    opened, claimed and answered, and the reply lands in the customer's conversation."""
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        started = client.post("/v1/conversations")
        assert started.status_code == 201, started.text
        cid = started.json()["conversation_id"]
        customer = {"Authorization": f"Bearer {started.json()['token']}"}
        r = client.post(
            f"/v1/conversations/{cid}/messages",
            json={"text": "I want to talk to a human"},
            headers=customer,
        )
        assert r.status_code == 200 and r.json()["handed_off"], r.text
        ticket_id = r.json()["ticket_id"]

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server.url + "/console")

    page.get_by_label("API key").fill("not-a-staff-key")
    page.get_by_role("button", name="Sign in", exact=True).click()
    alert = page.get_by_role("alert")
    expect_visible(alert)
    assert "401" in alert.inner_text()
    assert page.evaluate("() => sessionStorage.length") == 0

    page.get_by_label("API key").fill(AGENT_KEY)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect_visible(page.get_by_text("Signed in as"))
    assert alert.is_hidden()
    listed = page.locator(f'button[data-ticket="{ticket_id}"]')
    expect_visible(listed)
    assert "handoff" in listed.inner_text() and "open" in listed.inner_text()
    listed.click()

    title = page.get_by_role("heading", name=f"Ticket #{ticket_id} (handoff)")
    expect_visible(title)
    assert "customer_asked_for_human" in page.locator("#reasons").inner_text()
    assert page.locator("#summary").inner_text()
    conversation = page.get_by_role("list", name="Conversation", exact=True)
    assert "I want to talk to a human" in conversation.inner_text()

    page.get_by_role("button", name="Claim", exact=True).click()
    page.wait_for_function(
        "() => document.getElementById('ticket-meta').textContent.includes('claimed by')"
    )
    assert page.get_by_role("button", name="Claim", exact=True).is_disabled()

    text = "Hi, this is Dana. <b>Checking now.</b>"
    page.get_by_label("Your name").fill("Dana")
    page.get_by_label("Reply", exact=True).fill(text)
    page.get_by_role("button", name="Send reply").click()
    page.get_by_role("status").get_by_text("Reply sent.").wait_for()
    shown = conversation.locator("li.agent").last
    expect_visible(shown)
    assert text in shown.inner_text() and "Dana" in shown.inner_text()
    assert conversation.locator("b").count() == 0
    assert page.get_by_label("Reply", exact=True).input_value() == ""

    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        messages = client.get(f"/v1/conversations/{cid}/messages", headers=customer).json()
    last = messages["messages"][-1]
    assert (last["role"], last["agent"], last["text"]) == ("agent", "Dana", text)
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


# --------------------------------------------------------------------------------------------------
# Opening words, the customer's language, a person's reply, failures, reloads and the shop's brand


def test_the_panel_opens_with_a_welcome_and_questions_to_start_with(page: Page) -> None:
    open_chat(page)
    welcome = page.locator(".log .intro")
    expect_visible(welcome)
    assert "how can we help" in welcome.inner_text().lower()
    box = page.get_by_role("textbox", name="Message")
    assert box.get_attribute("placeholder") == "Ask about an order, a return, shipping…"
    group = page.get_by_role("group", name="Suggested questions")
    chips = group.get_by_role("button")
    assert chips.all_inner_texts() == [
        "Where is my order?",
        "What is your return policy?",
        "How long does shipping take?",
    ]

    # A chip sends its question, as if typed; the answer is a cited one.
    chips.nth(1).click()
    wait_for_answer(page, 0)
    assert page.locator(".message.customer .text").all_inner_texts() == [
        "What is your return policy?"
    ]
    answer = page.locator(".message.concierge").last
    assert answer.get_by_role("list", name="Sources").locator("a").count() >= 1
    assert group.is_hidden()  # they start a conversation; this one has started
    assert welcome.is_visible()


def test_the_widgets_words_follow_data_lang_else_the_pages_lang_else_english(
    browser: Browser, live_server: LiveServer
) -> None:
    # data-lang wins over the page's language.
    with shop_page(browser, live_server, attrs='data-lang="fr"') as page:
        assert page.locator("#concierge-widget").get_attribute("lang") == "fr"
        open_chat(page, "Discuter avec nous", "Service client")
        assert page.get_by_role("button", name="Fermer la discussion").is_visible()
        assert page.get_by_role("log", name="Conversation").is_visible()
        box = page.get_by_role("textbox", name="Message")
        assert box.get_attribute("placeholder") == (
            "Une question sur une commande, un retour, la livraison…"
        )
        assert page.get_by_role("button", name="Envoyer").is_visible()
        assert page.locator(".intro").inner_text().startswith("Bonjour\u00a0!")
        chips = page.get_by_role("group", name="Questions suggérées").get_by_role("button")
        assert chips.all_inner_texts() == [
            "Où en est ma commande\u00a0?",
            "Quelle est votre politique de retour\u00a0?",
            "Quels sont les délais de livraison\u00a0?",
        ]

    # No data-lang: the page's <html lang>, its region ignored.
    with shop_page(browser, live_server, html='<html lang="es-ES">') as page:
        open_chat(page, "Chatear con nosotros", "Atención al cliente")
        box = page.get_by_role("textbox", name="Mensaje")
        assert (
            box.get_attribute("placeholder") == "Pregunte por un pedido, una devolución, el envío…"
        )
        assert page.get_by_role("button", name="Cerrar el chat").is_visible()
        say(page, "What is your return policy?", "Mensaje")  # the labels are Spanish all the same
        answer = page.locator(".message.concierge").last
        assert answer.get_by_role("list", name="Fuentes").locator("a").count() >= 1
        assert page.locator(".message.customer .who").last.inner_text() == "Usted"

    # A language the widget does not speak, in either place: English.
    with shop_page(browser, live_server, html='<html lang="de">', attrs='data-lang="it"') as page:
        open_chat(page)
        box = page.get_by_role("textbox", name="Message")
        assert box.get_attribute("placeholder") == "Ask about an order, a return, shipping…"


def log_shows(page: Page, selector: str) -> bool:
    """Whether the log's visible part holds the whole of the (last) element ``selector`` matches,
    or fills the log with it."""
    shown: bool = page.evaluate(
        """([selector]) => {
            const root = document.getElementById('concierge-widget').shadowRoot;
            const log = root.querySelector('.log').getBoundingClientRect();
            const items = root.querySelectorAll(selector);
            const item = items[items.length - 1].getBoundingClientRect();
            return item.top >= log.top - 1 && (item.bottom <= log.bottom + 1 || item.top <= log.top + 1);
        }""",
        [selector],
    )
    return shown


def test_a_persons_reply_scrolls_into_view_and_is_announced(
    page: Page, live_server: LiveServer
) -> None:
    open_chat(page)
    say(page, "I want to talk to a human")
    expect_visible(page.get_by_role("status"))
    ticket_id = handoff_ticket(live_server, conversation_id(page))
    for n in range(4):  # the bot is silent while a person has the conversation
        say(page, f"Here is more about my problem, part {n}. " + "It is a long story. " * 8)
    # The customer scrolls back up to reread the start, and a person answers meanwhile.
    overflow = page.evaluate(
        """() => {
            const log = document.getElementById('concierge-widget').shadowRoot.querySelector('.log');
            log.scrollTop = 0;
            return log.scrollHeight > log.clientHeight + 200;
        }"""
    )
    assert overflow
    assert not log_shows(page, ".message.customer")
    reply_as_person(live_server, ticket_id, "Hi, this is Dana. I am looking at your order now.")
    human = page.locator(".message.agent")
    expect_visible(human)
    page.wait_for_function(
        "() => document.getElementById('concierge-widget').shadowRoot"
        ".querySelector('.log').scrollTop > 0"
    )
    assert log_shows(page, ".message.agent")
    # Open, the conversation log announces it: a polite live region, not busy, holding the reply.
    log = page.get_by_role("log", name="Conversation")
    assert log.get_attribute("aria-live") == "polite"
    assert log.get_attribute("aria-busy") == "false"
    assert log.locator(".message.agent").count() == 1

    # Closed, the log is hidden from screen readers: a live region outside the panel says it.
    page.keyboard.press("Escape")
    text = "Your refund is on its way."
    reply_as_person(live_server, ticket_id, text)
    announcer = page.locator("[aria-live='polite'][aria-atomic='true']")
    page.wait_for_function(
        "([text]) => [...document.getElementById('concierge-widget').shadowRoot"
        ".querySelectorAll('[aria-live=polite][aria-atomic=true]')]"
        ".some((n) => n.textContent.includes(text))",
        arg=[text],
    )
    assert announcer.inner_text() == f"New message from Dana (a person): {text}"
    assert page.locator("#cw-panel [aria-live='polite'][aria-atomic='true']").count() == 0
    launcher = page.get_by_role("button", name="Chat with us (new message)")
    assert launcher.is_visible()
    launcher.click()
    assert log_shows(page, ".message.agent")


def unsent(page: Page) -> Locator:
    return page.locator(".message.customer.unsent")


def test_with_the_service_down_the_message_stays_marked_not_sent(
    browser: Browser, live_server: LiveServer
) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound and never listening: connections to it are refused
    api = f"http://127.0.0.1:{dead.getsockname()[1]}"
    try:
        with shop_page(browser, live_server, api=api) as page:
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            open_chat(page)
            say(page, "Where is my order?")
            alert = page.get_by_role("alert")
            assert alert.inner_text() == (
                "The chat service is not answering right now. Your message was not sent; "
                "try again in a moment."
            )
            mine = unsent(page)
            assert mine.locator(".text").inner_text() == "Where is my order?"
            assert "Not sent" in mine.inner_text()
            assert page.locator(".message.concierge").count() == 0

            # Retrying while it is still down: the same message, marked again, not a second copy.
            mine.get_by_role("button", name="Retry").click()
            expect_visible(unsent(page).get_by_role("button", name="Retry"))
            assert page.locator(".message.customer").count() == 1
            assert "not answering" in alert.inner_text()
            assert not [line for line in console if "CORS_ORIGINS" in line]
    finally:
        dead.close()


@pytest.mark.parametrize(
    ("status", "headers", "notice"),
    [
        (503, {}, "The chat service is not answering right now."),
        (429, {"Retry-After": "2"}, "You are sending messages too quickly. Wait 2 seconds"),
    ],
    ids=["server-error", "rate-limited"],
)
def test_a_refused_message_is_kept_and_its_retry_sends_it(
    page: Page, status: int, headers: dict[str, str], notice: str
) -> None:
    def refuse(route: Any) -> None:
        body = '{"error": {"code": "refused", "message": "Not now."}}'
        route.fulfill(status=status, headers=headers, content_type="application/json", body=body)

    open_chat(page)
    page.route(re.compile(r"/messages/stream$"), refuse)
    say(page, "What is your return policy?")
    assert page.get_by_role("alert").inner_text().startswith(notice)
    retry = unsent(page).get_by_role("button", name="Retry")
    # Until Retry-After is up, retrying would only be refused again.
    assert retry.is_disabled() == ("Retry-After" in headers)

    page.unroute(re.compile(r"/messages/stream$"))
    retry.click()  # waits until it is enabled
    wait_for_answer(page, 1)
    assert unsent(page).count() == 0 and page.get_by_role("alert").is_hidden()
    assert page.locator(".message.customer .text").all_inner_texts() == [
        "What is your return policy?"
    ]
    answer = page.locator(".message.concierge")
    assert answer.count() == 1 and "return" in answer.inner_text().lower()


def test_a_shop_origin_the_service_does_not_allow_is_named_for_its_developer(
    browser: Browser, live_server: LiveServer
) -> None:
    """The shop's site at an origin missing from the allowed ones (localhost, not 127.0.0.1): the
    customer reads that the chat is unavailable, in their language; the console says what to fix."""
    origin = live_server.shop.origin.replace("127.0.0.1", "localhost")
    with shop_page(browser, live_server, attrs='data-lang="fr"', origin=origin) as page:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        open_chat(page, "Discuter avec nous", "Service client")
        say(page, "Bonjour, où en est ma commande ?")
        assert page.get_by_role("alert").inner_text() == (
            "La discussion n’est pas disponible sur cette page pour le moment. "
            "Votre message n’a pas été envoyé."
        )
        mine = unsent(page)
        assert "Non envoyé" in mine.inner_text()
        assert mine.get_by_role("button", name="Réessayer").is_enabled()
        [hint] = [line for line in errors if "CONCIERGE_API_CORS_ORIGINS" in line]
        assert f'Add "{origin}"' in hint and live_server.url in hint


def test_a_reload_keeps_the_replies_sources_as_links(page: Page) -> None:
    open_chat(page)
    say(page, "What is your return policy?")
    sources = page.locator(".message.concierge").last.get_by_role("list", name="Sources")
    links = sources.locator("a")
    before = [(a.inner_text(), a.get_attribute("href")) for a in links.all()]
    assert before
    shown = page.locator(".message").all_inner_texts()

    page.reload()
    expect_visible(page.get_by_role("dialog", name=re.compile("support", re.I)))
    expect_visible(sources)
    after = [(a.inner_text(), a.get_attribute("href")) for a in links.all()]
    assert after == before
    assert page.locator(".message").all_inner_texts() == shown


README = Path(__file__).resolve().parents[2] / "api" / "README.md"


def test_the_shop_brands_the_widget_with_the_documented_css_properties(
    browser: Browser, live_server: LiveServer
) -> None:
    """Every colour the widget shows comes from a property in api/README.md's table, whose
    defaults are the widget's; a shop that sets them all leaves none of the widget's own."""
    table = dict(re.findall(r"^\| `(--cw-[a-z-]+)` \| `([^`]+)` \|", README.read_text(), re.M))
    colours = {name: default for name, default in table.items() if default.startswith("#")}
    assert {"--cw-accent", "--cw-focus", "--cw-font"} <= set(table)
    ours = {name: f"rgb(1, {i}, 200)" for i, name in enumerate(sorted(colours), start=1)}
    style = "".join(f"{name}: {value}; " for name, value in ours.items())
    head = f"<style>#concierge-widget {{ {style} --cw-font: Georgia, serif; }}</style>"
    read = """([names]) => {
        const style = getComputedStyle(document.getElementById('concierge-widget'));
        return names.map((name) => style.getPropertyValue(name).trim());
    }"""

    with shop_page(browser, live_server) as page:
        assert page.evaluate(read, [list(table)]) == list(table.values())

    with shop_page(browser, live_server, head=head) as page:
        page.keyboard.press("Tab")  # the keyboard's focus ring, on the launcher
        ring = page.evaluate(
            "() => getComputedStyle(document.getElementById('concierge-widget')"
            ".shadowRoot.activeElement).outlineColor"
        )
        assert ring == ours["--cw-focus"]
        open_chat(page)
        say(page, "What is your return policy?")
        page.route(re.compile(r"/messages/stream$"), lambda route: route.fulfill(status=503))
        say(page, "And for a gift?")  # not sent: the notice, the mark and Retry show
        page.keyboard.press("Shift+Tab")  # from the message box back to Retry
        used: list[list[str]] = page.evaluate(
            """() => {
                const host = document.getElementById('concierge-widget');
                const out = [];
                const name = (n) => n.tagName.toLowerCase() + (n.className ? '.' + n.className : '');
                for (const node of [host, ...host.shadowRoot.querySelectorAll('*')]) {
                    if (node.tagName === 'LINK') continue;
                    const s = getComputedStyle(node);
                    out.push([name(node), 'color', s.color], [name(node), 'background', s.backgroundColor]);
                    for (const side of ['top', 'right', 'bottom', 'left']) {
                        if (s.getPropertyValue(`border-${side}-style`) !== 'none'
                            && parseFloat(s.getPropertyValue(`border-${side}-width`)) > 0) {
                            const colour = s.getPropertyValue(`border-${side}-color`);
                            out.push([name(node), `border-${side}`, colour]);
                        }
                    }
                    if (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) {
                        out.push([name(node), 'outline', s.outlineColor]);
                    }
                }
                const box = host.shadowRoot.querySelector('textarea');
                out.push(['placeholder', 'color', getComputedStyle(box, '::placeholder').color]);
                out.push(['textarea', 'font', getComputedStyle(box).fontFamily]);
                return out;
            }"""
        )
        allowed = {*ours.values(), "rgba(0, 0, 0, 0)"}
        stray = [row for row in used if row[1] != "font" and row[2] not in allowed]
        assert stray == [], f"colours not from a documented property: {stray}"
        shown = {row[2] for row in used}
        assert {name for name, value in ours.items() if value not in shown} == set()
        assert ["textarea", "font", "Georgia, serif"] in used
        assert ["button.retry", "outline", ours["--cw-focus"]] in used
        customer = page.locator(".message.customer .text").first
        assert (
            customer.evaluate("(n) => getComputedStyle(n).backgroundColor") == ours["--cw-accent"]
        )
