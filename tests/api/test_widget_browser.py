"""The chat widget in a real headless Chromium (Debian's, driven by Playwright) against a real uvicorn
server on a loopback port: the real agent without an LLM, the seeded demo shop, the demo page at ``/``.

Skipped only where Chromium or Playwright is missing and ``CI`` is unset; in CI they must be there."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn

from agent import Agent, Context, open_checkpointer
from api.app import create_app
from classifiers import Classifier
from knowledge import KnowledgeBase
from tests.agent.conftest import QUIET, find_order
from tests.api.conftest import WIDGET_ORIGIN, api_settings, signed_identity
from tests.conftest import StoreFactory
from tools.demo import seed_demo_shop
from tools.store import Store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CONCIERGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AGENT_KEY = "widget-test-agent-key"
TIMEOUT_MS = 20_000


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the browser tests", pytrace=False)
    pytest.skip(reason)


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
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free port, held from here on: no race with other processes
    port = sock.getsockname()[1]
    shop = ShopSite()
    shop_thread = threading.Thread(target=shop.serve_forever, daemon=True)
    shop_thread.start()
    settings = api_settings(
        Path(tmp), api_agent_keys=[AGENT_KEY], api_cors_origins=[WIDGET_ORIGIN, shop.origin]
    )
    app = create_app(settings, agent=agent)
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", shop, agent, store)
    finally:
        shop.shutdown()
        shop.server_close()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        checkpointer.close()
        store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file() and not shutil.which("chromium"):
        _missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    executable = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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


def open_chat(page: Page) -> None:
    page.get_by_role("button", name="Chat with us").click()
    expect_visible(page.get_by_role("dialog", name=re.compile("support", re.I)))


def expect_visible(locator: Locator) -> None:
    locator.wait_for(state="visible", timeout=TIMEOUT_MS)


def say(page: Page, text: str) -> None:
    """Type a message and send it with Enter, then wait until the answer has finished."""
    before = page.locator(".message").count()
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")
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

    cid = conversation_id(page)
    staff = {"Authorization": f"Bearer {AGENT_KEY}"}
    with httpx.Client(base_url=live_server.url, headers=staff, timeout=10) as client:
        queue = client.get("/v1/agent/tickets", params={"status": "open"}).json()["tickets"]
        [ticket] = [t for t in queue if t["conversation_id"] == cid]
        r = client.post(
            f"/v1/agent/tickets/{ticket['ticket_id']}/reply",
            json={"text": "Hi, this is Dana from support. <b>How can I help?</b>", "name": "Dana"},
        )
        assert r.status_code == 200, r.text

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
    with httpx.Client(base_url=live_server.url, headers=staff, timeout=10) as client:
        r = client.post(f"/v1/agent/tickets/{ticket['ticket_id']}/hand-back")
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
