/*
 * concierge chat widget. Embed it with one tag:
 *
 *   <script src="https://support.example/widget.js" defer
 *           data-api="https://support.example"          (default: where this script came from)
 *           data-customer-id="..." data-issued-at="..." data-signature="..."
 *                                                       (a logged-in customer, as the shop's server
 *                                                        signed it; else anonymous)
 *           data-title="Support"                        (the panel's heading)
 *           data-help-url="https://shop.example/help/{source}"></script>  (where citations link)
 *
 * Plain JavaScript, no dependencies. Replies stream over the chat API's Server-Sent Events; every
 * message is shown with textContent, never parsed as HTML. The conversation id and token live in
 * sessionStorage, so a reload carries on the same conversation.
 */
(() => {
  "use strict";

  const script =
    document.currentScript || document.querySelector('script[src$="/widget.js"], script[src="widget.js"]');
  if (!script || window.__conciergeWidget) return;
  window.__conciergeWidget = true;

  const data = script.dataset;
  const scriptUrl = new URL(script.src, location.href);
  const API = (data.api || scriptUrl.origin).replace(/\/+$/, "");
  const signed = data.customerId && data.issuedAt && data.signature;
  if ((data.customerId || data.issuedAt || data.signature) && !signed) {
    console.warn(
      "concierge widget: data-customer-id, data-issued-at and data-signature go together; " +
        "chatting anonymously",
    );
  }
  // Dropped when the service refuses it (signed too long ago, say): the chat goes on as a guest's.
  let identity = signed
    ? { customer_id: data.customerId, issued_at: Number(data.issuedAt), signature: data.signature }
    : null;
  const TITLE = data.title || "Support";
  const HELP_URL = data.helpUrl || `${API}/help/{source}`;
  const POLL_MS = Math.max(1000, Number(data.pollMs) || 4000);
  const storageKey = () => `concierge:${API}:${identity ? identity.customer_id : "anonymous"}`;
  const MAX_CHARS = 4000;

  const HANDOFF_TEXT = {
    handed_off: "A person will answer here. You can keep writing: they see your messages.",
    awaiting_approval: "A person needs to approve this request. Their answer will appear here.",
    escalated: "Our support team has been told about this and may follow up.",
  };

  // ---------------------------------------------------------------------------------------------
  // Session: the conversation id and token, kept for this tab

  const storage = {
    read() {
      try {
        const saved = JSON.parse(sessionStorage.getItem(storageKey()) || "null");
        if (saved && saved.id && saved.token && saved.expiresAt * 1000 > Date.now() + 60000) return saved;
      } catch (_) {
        /* storage disabled or garbled: start afresh */
      }
      return null;
    },
    write(value) {
      try {
        if (value) sessionStorage.setItem(storageKey(), JSON.stringify(value));
        else sessionStorage.removeItem(storageKey());
      } catch (_) {
        /* the conversation then lasts as long as the page */
      }
    },
  };

  let session = storage.read();
  let busy = false;
  let handoff = null; // null | "handed_off" | "awaiting_approval" | "escalated"
  let pollTimer = null;
  const entries = []; // {id, role, text, el}: what the log shows, matched to the history by id
  const seen = new Set();

  // ---------------------------------------------------------------------------------------------
  // DOM (in a shadow root, so the shop's page and the widget keep their styles apart)

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  const host = el("div", { id: "concierge-widget" });
  const root = host.attachShadow({ mode: "open" });
  const stylesheet = el("link", { rel: "stylesheet", href: new URL("widget.css", scriptUrl).href });

  const title = el("h2", { id: "cw-title", class: "title", text: TITLE });
  const closeButton = el("button", { type: "button", class: "close", "aria-label": "Close chat" });
  closeButton.textContent = "\u00d7";
  const banner = el("p", { class: "banner", role: "status", hidden: "" });
  const log = el("ol", {
    class: "log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions text",
    "aria-label": "Conversation",
    tabindex: "0",
  });
  const notice = el("p", { class: "notice", role: "alert", hidden: "" });
  const input = el("textarea", {
    id: "cw-input",
    rows: "1",
    maxlength: String(MAX_CHARS),
    autocomplete: "off",
    placeholder: "Ask about an order, a return, a product…",
  });
  const label = el("label", { for: "cw-input", class: "visually-hidden", text: "Message" });
  const sendButton = el("button", { type: "submit", class: "send", text: "Send" });
  const form = el("form", { class: "composer", "aria-label": "Send a message" }, label, input, sendButton);
  const panel = el(
    "section",
    { id: "cw-panel", class: "panel", role: "dialog", "aria-labelledby": "cw-title", hidden: "" },
    el("div", { class: "header" }, title, closeButton),
    banner,
    log,
    notice,
    form,
  );
  const badge = el("span", { class: "badge", hidden: "", "aria-hidden": "true", text: "1" });
  const launcherLabel = el("span", { text: "Chat with us" });
  const unreadLabel = el("span", { class: "visually-hidden", hidden: "", text: " (new message)" });
  const launcher = el(
    "button",
    { type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "cw-panel" },
    launcherLabel,
    unreadLabel,
    badge,
  );
  root.append(stylesheet, panel, launcher);

  // ---------------------------------------------------------------------------------------------
  // Opening and closing

  function isOpen() {
    return !panel.hidden;
  }

  function setUnread(on) {
    badge.hidden = !on;
    unreadLabel.hidden = !on;
  }

  function open(focus = true) {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    setUnread(false);
    rememberOpen(true);
    scrollToEnd(true);
    if (focus) input.focus();
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    rememberOpen(false);
    launcher.focus();
  }

  function rememberOpen(on) {
    try {
      sessionStorage.setItem(`${storageKey()}:open`, on ? "1" : "0");
    } catch (_) {
      /* not remembered */
    }
  }

  function wasOpen() {
    try {
      return sessionStorage.getItem(`${storageKey()}:open`) === "1";
    } catch (_) {
      return false;
    }
  }

  launcher.addEventListener("click", () => (isOpen() ? close() : open()));
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Messages

  const WHO = { customer: "You", concierge: "Assistant" };

  function nearEnd() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollToEnd(force) {
    if (force || nearEnd()) log.scrollTop = log.scrollHeight;
  }

  /** A link to the cited section's help page, or null when the URL would not be http(s). */
  function citationHref(citation) {
    const path = citation.source.split("/").map(encodeURIComponent).join("/");
    try {
      const url = new URL(HELP_URL.replace("{source}", path), location.href);
      if (url.protocol !== "https:" && url.protocol !== "http:") return null;
      if (citation.anchor) url.hash = citation.anchor;
      return url.href;
    } catch (_) {
      return null;
    }
  }

  function link(citation, text) {
    const href = citationHref(citation);
    if (!href) return document.createTextNode(text);
    return el("a", { href, target: "_blank", rel: "noopener noreferrer", text });
  }

  function addSources(entry, citations) {
    if (!citations.length) return;
    const list = el("ul", { class: "sources", "aria-label": "Sources" });
    const shown = new Set();
    for (const c of citations) {
      const key = `${c.source}#${c.anchor}`;
      if (!c.source || shown.has(key)) continue;
      shown.add(key);
      // "Returns and Refunds: Which orders can be returned": the document, then the section.
      const name = c.title || c.source;
      list.append(el("li", {}, link(c, c.section ? `${name}: ${c.section}` : name)));
    }
    entry.el.append(list);
  }

  function addMessage(role, text, options = {}) {
    const who = role === "agent" ? `${options.agent || "Support"} (a person)` : WHO[role] || role;
    const body = el("div", { class: "text" });
    const item = el("li", { class: `message ${role}` }, el("span", { class: "who", text: who }), body);
    const entry = { id: options.id || null, role, text, el: item, body };
    if (options.pending) {
      item.setAttribute("aria-busy", "true");
      body.append(
        el("span", { class: "typing", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
      );
    } else {
      body.textContent = text;
    }
    if (entry.id) seen.add(entry.id);
    entries.push(entry);
    log.append(item);
    scrollToEnd(role === "customer");
    if (role === "agent" && !isOpen()) setUnread(true);
    return entry;
  }

  function removeEntry(entry) {
    entry.el.remove();
    entries.splice(entries.indexOf(entry), 1);
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function setHandoff(state) {
    handoff = state;
    banner.textContent = state ? HANDOFF_TEXT[state] || HANDOFF_TEXT.escalated : "";
    banner.hidden = !state;
    panel.dataset.handoff = state || "";
    if (state === "handed_off" || state === "awaiting_approval") startPolling();
    else stopPolling();
  }

  function setBusy(on) {
    busy = on;
    sendButton.disabled = on;
    log.setAttribute("aria-busy", on ? "true" : "false");
  }

  // ---------------------------------------------------------------------------------------------
  // The chat API

  function headers(json) {
    const h = { Authorization: `Bearer ${session.token}` };
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (_) {
      /* not our JSON: fall through */
    }
    return `The chat service answered ${response.status}; please try again.`;
  }

  function forget() {
    session = null;
    storage.write(null);
    stopPolling();
  }

  async function errorCode(response) {
    try {
      const body = await response.clone().json();
      return (body && body.error && body.error.code) || "";
    } catch (_) {
      return "";
    }
  }

  function createConversation() {
    return fetch(`${API}/v1/conversations`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(identity || {}),
    });
  }

  async function startConversation() {
    let response = await createConversation();
    if (response.status === 401 && identity) {
      // The page's signed identity was refused: chat as a guest, whom the assistant asks who they are
      // (carrying on this tab's guest conversation, if there is one).
      const code = await errorCode(response);
      console.warn(`concierge widget: the signed identity was refused (${code}); chatting anonymously`);
      if (code === "identity_expired") {
        showNotice(
          "Your sign-in on this page has expired, so the assistant will ask who you are. " +
            "Reload the page to chat signed in.",
        );
      }
      identity = null;
      session = storage.read();
      if (session) return;
      response = await createConversation();
    }
    if (!response.ok) throw new Error(await errorMessage(response));
    const body = await response.json();
    session = { id: body.conversation_id, token: body.token, expiresAt: body.expires_at };
    storage.write(session);
  }

  /** Server-Sent Events from a fetch body: yields {event, data} with data parsed as JSON. */
  async function* readEvents(stream) {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let name = "message";
    let lines = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let text = buffer + decoder.decode(value, { stream: true });
      // A "\r" at the end may be the first half of "\r\n": keep it for the next chunk.
      let tail = "";
      if (text.endsWith("\r")) {
        tail = "\r";
        text = text.slice(0, -1);
      }
      const parts = text.replace(/\r\n?/g, "\n").split("\n");
      buffer = parts.pop() + tail;
      for (const line of parts) {
        if (line === "") {
          if (lines.length) {
            let payload = lines.join("\n");
            try {
              payload = JSON.parse(payload);
            } catch (_) {
              /* keep the text */
            }
            yield { event: name, data: payload };
          }
          name = "message";
          lines = [];
        } else if (line.startsWith(":")) {
          // a comment: the server's keep-alive ping
        } else {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "event") name = value;
          else if (field === "data") lines.push(value);
        }
      }
    }
  }

  async function postMessage(text) {
    if (!session) await startConversation();
    let response = await fetch(`${API}/v1/conversations/${encodeURIComponent(session.id)}/messages/stream`, {
      method: "POST",
      headers: { ...headers(true), Accept: "text/event-stream" },
      body: JSON.stringify({ text }),
    });
    if (response.status === 401 || response.status === 404) {
      // The token expired or the conversation is gone: carry on in a new one.
      forget();
      await startConversation();
      response = await fetch(`${API}/v1/conversations/${encodeURIComponent(session.id)}/messages/stream`, {
        method: "POST",
        headers: { ...headers(true), Accept: "text/event-stream" },
        body: JSON.stringify({ text }),
      });
    }
    return response;
  }

  async function send(text) {
    setBusy(true);
    showNotice("");
    addMessage("customer", text);
    const reply = addMessage("concierge", "", { pending: true });
    const citations = [];
    let streamed = "";
    let finished = false;
    try {
      const response = await postMessage(text);
      if (!response.ok || !response.body) {
        showNotice(await errorMessage(response));
        removeEntry(reply);
        return;
      }
      for await (const { event, data: body } of readEvents(response.body)) {
        if (event === "citation") {
          citations.push(body);
        } else if (event === "delta") {
          if (!streamed) reply.body.replaceChildren();
          streamed += body.text;
          reply.body.append(document.createTextNode(body.text));
          scrollToEnd(false);
        } else if (event === "handoff") {
          setHandoff(body.state);
        } else if (event === "done") {
          finished = true;
          reply.el.removeAttribute("aria-busy");
          if (body.reply) {
            reply.text = body.reply;
            reply.body.textContent = body.reply;
            addSources(reply, body.citations || citations);
          } else {
            removeEntry(reply); // a person has the conversation: the bot stays silent
          }
          if (body.handed_off) setHandoff("handed_off");
          else if (body.awaiting_approval) setHandoff("awaiting_approval");
          else if (handoff === "handed_off") setHandoff(null);
        } else if (event === "error") {
          finished = true;
          showNotice(body.message || "The assistant could not answer; please try again.");
          removeEntry(reply);
        }
      }
      if (!finished) {
        showNotice("The connection dropped before the answer was complete; please try again.");
        if (!streamed) removeEntry(reply);
      }
    } catch (error) {
      showNotice(error instanceof Error && error.message ? error.message : "Could not reach the chat service.");
      if (entries.includes(reply)) removeEntry(reply);
    } finally {
      reply.el.removeAttribute("aria-busy");
      setBusy(false);
      scrollToEnd(false);
    }
  }

  /** Show what the history holds that the log does not: human agents' replies, above all. */
  async function refreshHistory() {
    if (!session || busy) return;
    let response;
    try {
      response = await fetch(`${API}/v1/conversations/${encodeURIComponent(session.id)}/messages`, {
        headers: headers(false),
      });
    } catch (_) {
      return; // offline for a moment: the next poll tries again
    }
    if (response.status === 401 || response.status === 404) {
      forget();
      return;
    }
    if (!response.ok || busy) return;
    const history = await response.json();
    let botSpoke = false;
    for (const [index, message] of history.messages.entries()) {
      const id = message.id || `${message.role}:${index}`;
      if (seen.has(id)) continue;
      seen.add(id);
      if (!message.text) continue; // a turn's tool call, with nothing to show
      // A message this tab already shows (sent or streamed here) gets its id; the rest are new.
      const local = entries.find((e) => !e.id && e.role === message.role && e.text === message.text);
      if (local) {
        local.id = id;
        continue;
      }
      addMessage(message.role, message.text, { id, agent: message.agent });
      if (message.role !== "customer") botSpoke = true;
    }
    if (history.handed_off) {
      if (handoff !== "handed_off") setHandoff("handed_off");
    } else if (handoff === "handed_off" || (handoff === "awaiting_approval" && botSpoke)) {
      setHandoff(null);
    }
  }

  function startPolling() {
    if (pollTimer === null) pollTimer = setInterval(refreshHistory, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
  }

  // ---------------------------------------------------------------------------------------------
  // The composer

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    autosize();
    send(text);
    input.focus();
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, 128)}px`;
  }
  input.addEventListener("input", autosize);

  // ---------------------------------------------------------------------------------------------
  // Start

  function mount() {
    document.body.append(host);
    if (session) {
      refreshHistory().then(() => {
        if (wasOpen()) open(false);
      });
    }
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
