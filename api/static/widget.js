/*
 * concierge chat widget. Embed it with one tag:
 *
 *   <script src="https://support.example/widget.js" defer
 *           data-api="https://support.example"          (default: where this script came from)
 *           data-customer-id="..." data-issued-at="..." data-signature="..."
 *                                                       (a logged-in customer, as the shop's server
 *                                                        signed it; else anonymous)
 *           data-lang="fr"                              (en, es or fr; default: the page's
 *                                                        <html lang>, else English)
 *           data-title="Support"                        (the panel's heading)
 *           data-help-url="https://shop.example/help/{source}"></script>  (where citations link)
 *
 * Plain JavaScript, no dependencies. Replies stream over the chat API's Server-Sent Events; every
 * message is shown with textContent, never parsed as HTML. The conversation id and token live in
 * sessionStorage, so a reload carries on the same conversation; so do the replies' sources, which
 * the history endpoint does not return.
 */
(() => {
  "use strict";

  const script =
    document.currentScript || document.querySelector('script[src$="/widget.js"], script[src="widget.js"]');
  if (!script || window.__conciergeWidget) return;
  window.__conciergeWidget = true;

  // ---------------------------------------------------------------------------------------------
  // The widget's own words, in each language it speaks (the assistant answers in the customer's)

  const STRINGS = {
    en: {
      title: "Support",
      launcher: "Chat with us",
      unread: " (new message)",
      close: "Close chat",
      conversation: "Conversation",
      message: "Message",
      send: "Send",
      composer: "Send a message",
      placeholder: "Ask about an order, a return, shipping…",
      welcome: "Hello! How can we help? Ask about an order, a return or shipping, or pick a question.",
      suggestionsLabel: "Suggested questions",
      suggestions: ["Where is my order?", "What is your return policy?", "How long does shipping take?"],
      you: "You",
      assistant: "Assistant",
      person: (name) => `${name} (a person)`,
      staff: "Support",
      newMessage: (who, text) => `New message from ${who}: ${text}`,
      sources: "Sources",
      retry: "Retry",
      notSent: "Not sent",
      handoff: {
        handed_off: "A person will answer here. You can keep writing: they see your messages.",
        awaiting_approval: "A person needs to approve this request. Their answer will appear here.",
        escalated: "Our support team has been told about this and may follow up.",
      },
      down: "The chat service is not answering right now. Your message was not sent; try again in a moment.",
      cors: "The chat is not available on this page right now. Your message was not sent.",
      rateLimited: (seconds) =>
        "You are sending messages too quickly. " +
        (seconds ? `Wait ${seconds} ${seconds === 1 ? "second" : "seconds"}, then` : "Wait a moment, then") +
        " try again.",
      refused: (status) => `Your message could not be sent (error ${status}). Please try again.`,
      failed: "The assistant could not answer. Please try again.",
      dropped: "The connection dropped before the answer was complete. Please try again.",
      expired:
        "Your sign-in on this page has expired, so the assistant will ask who you are. " +
        "Reload the page to chat signed in.",
    },
    es: {
      title: "Atención al cliente",
      launcher: "Chatear con nosotros",
      unread: " (mensaje nuevo)",
      close: "Cerrar el chat",
      conversation: "Conversación",
      message: "Mensaje",
      send: "Enviar",
      composer: "Enviar un mensaje",
      placeholder: "Pregunte por un pedido, una devolución, el envío…",
      welcome:
        "¡Hola! ¿En qué podemos ayudarle? Pregunte por un pedido, una devolución o el envío, " +
        "o elija una pregunta.",
      suggestionsLabel: "Preguntas sugeridas",
      suggestions: [
        "¿Dónde está mi pedido?",
        "¿Cuál es su política de devoluciones?",
        "¿Cuánto tarda el envío?",
      ],
      you: "Usted",
      assistant: "Asistente",
      person: (name) => `${name} (una persona)`,
      staff: "Atención al cliente",
      newMessage: (who, text) => `Nuevo mensaje de ${who}: ${text}`,
      sources: "Fuentes",
      retry: "Reintentar",
      notSent: "No enviado",
      handoff: {
        handed_off: "Una persona le responderá aquí. Puede seguir escribiendo: verá sus mensajes.",
        awaiting_approval: "Una persona tiene que aprobar esta solicitud. Su respuesta aparecerá aquí.",
        escalated:
          "Hemos avisado a nuestro equipo de atención al cliente, que podrá ponerse en contacto con usted.",
      },
      down:
        "El servicio de chat no responde en este momento. Su mensaje no se ha enviado; " +
        "inténtelo de nuevo dentro de un momento.",
      cors: "El chat no está disponible en esta página en este momento. Su mensaje no se ha enviado.",
      rateLimited: (seconds) =>
        "Está enviando mensajes demasiado rápido. " +
        (seconds ? `Espere ${seconds} ${seconds === 1 ? "segundo" : "segundos"}` : "Espere un momento") +
        " y vuelva a intentarlo.",
      refused: (status) => `No se ha podido enviar su mensaje (error ${status}). Inténtelo de nuevo.`,
      failed: "El asistente no ha podido responder. Inténtelo de nuevo.",
      dropped: "La conexión se cortó antes de que la respuesta estuviera completa. Inténtelo de nuevo.",
      expired:
        "Su sesión en esta página ha caducado, así que el asistente le preguntará quién es. " +
        "Recargue la página para chatear con su sesión iniciada.",
    },
    fr: {
      title: "Service client",
      launcher: "Discuter avec nous",
      unread: " (nouveau message)",
      close: "Fermer la discussion",
      conversation: "Conversation",
      message: "Message",
      send: "Envoyer",
      composer: "Envoyer un message",
      placeholder: "Une question sur une commande, un retour, la livraison…",
      welcome:
        "Bonjour\u00a0! Comment pouvons-nous vous aider\u00a0? Posez une question sur une commande, " +
        "un retour ou la livraison, ou choisissez-en une.",
      suggestionsLabel: "Questions suggérées",
      suggestions: [
        "Où en est ma commande\u00a0?",
        "Quelle est votre politique de retour\u00a0?",
        "Quels sont les délais de livraison\u00a0?",
      ],
      you: "Vous",
      assistant: "Assistant",
      person: (name) => `${name} (une personne)`,
      staff: "Service client",
      newMessage: (who, text) => `Nouveau message de ${who}\u00a0: ${text}`,
      sources: "Sources",
      retry: "Réessayer",
      notSent: "Non envoyé",
      handoff: {
        handed_off:
          "Une personne va vous répondre ici. Vous pouvez continuer à écrire\u00a0: elle voit vos messages.",
        awaiting_approval: "Une personne doit approuver cette demande. Sa réponse s’affichera ici.",
        escalated: "Notre service client a été informé et pourra vous recontacter.",
      },
      down:
        "Le service de discussion ne répond pas pour le moment. Votre message n’a pas été envoyé\u00a0; " +
        "réessayez dans un instant.",
      cors:
        "La discussion n’est pas disponible sur cette page pour le moment. " +
        "Votre message n’a pas été envoyé.",
      rateLimited: (seconds) =>
        "Vous envoyez des messages trop rapidement. " +
        (seconds
          ? `Patientez ${seconds} ${seconds === 1 ? "seconde" : "secondes"}`
          : "Patientez un instant") +
        ", puis réessayez.",
      refused: (status) => `Votre message n’a pas pu être envoyé (erreur ${status}). Veuillez réessayer.`,
      failed: "L’assistant n’a pas pu répondre. Veuillez réessayer.",
      dropped: "La connexion a été interrompue avant la fin de la réponse. Veuillez réessayer.",
      expired:
        "Votre connexion sur cette page a expiré\u00a0: l’assistant va donc vous demander qui vous êtes. " +
        "Rechargez la page pour discuter en étant connecté.",
    },
  };

  const data = script.dataset;
  const primaryTag = (tag) => (tag || "").trim().toLowerCase().split(/[-_]/)[0];
  const speaks = (tag) => Object.hasOwn(STRINGS, primaryTag(tag));
  if (data.lang && !speaks(data.lang)) {
    console.warn(`concierge widget: data-lang="${data.lang}" is not one of en, es, fr`);
  }
  // data-lang, else the page's <html lang> ("fr-CA" is French), else English.
  const LANG = primaryTag([data.lang, document.documentElement.lang].find(speaks) || "en");
  const t = STRINGS[LANG];

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
  const TITLE = data.title || t.title;
  const HELP_URL = data.helpUrl || `${API}/help/{source}`;
  const POLL_MS = Math.max(1000, Number(data.pollMs) || 4000);
  const storageKey = () => `concierge:${API}:${identity ? identity.customer_id : "anonymous"}`;
  const MAX_CHARS = 4000;
  const KEPT_SOURCES = 50; // replies whose sources a reload can still show

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

  /** The sources of this conversation's replies, by the reply's text: the history has only text. */
  const sourcesStore = {
    key: () => `${storageKey()}:sources`,
    load() {
      try {
        const saved = JSON.parse(sessionStorage.getItem(this.key()) || "null");
        if (saved && session && saved.conversation === session.id && Array.isArray(saved.replies)) {
          return saved.replies;
        }
      } catch (_) {
        /* none kept */
      }
      return [];
    },
    find(text) {
      const found = this.load().find((r) => r.text === text);
      return found ? found.citations : null;
    },
    add(text, citations) {
      if (!session || !citations.length) return;
      const replies = this.load().filter((r) => r.text !== text);
      replies.push({ text, citations });
      try {
        sessionStorage.setItem(
          this.key(),
          JSON.stringify({ conversation: session.id, replies: replies.slice(-KEPT_SOURCES) }),
        );
      } catch (_) {
        /* a reload then shows the reply without its sources */
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

  // lang: screen readers pronounce the widget's words in its language, whatever the page's is.
  const host = el("div", { id: "concierge-widget", lang: LANG });
  const root = host.attachShadow({ mode: "open" });
  const stylesheet = el("link", { rel: "stylesheet", href: new URL("widget.css", scriptUrl).href });

  const title = el("h2", { id: "cw-title", class: "title", text: TITLE });
  const closeButton = el("button", { type: "button", class: "close", "aria-label": t.close, title: t.close });
  closeButton.textContent = "\u00d7";
  const banner = el("p", { class: "banner", role: "status", hidden: "" });
  // Not a message: the history knows nothing of it, and it is there before the first message.
  const welcome = el("li", { class: "intro" }, el("div", { class: "text", text: t.welcome }));
  const log = el(
    "ol",
    {
      class: "log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions text",
      "aria-label": t.conversation,
      tabindex: "0",
    },
    welcome,
  );
  const suggestions = el("div", { class: "suggestions", role: "group", "aria-label": t.suggestionsLabel });
  for (const question of t.suggestions) {
    const chip = el("button", { type: "button", class: "chip", text: question });
    chip.addEventListener("click", () => {
      if (busy) return;
      send(question);
      input.focus();
    });
    suggestions.append(chip);
  }
  const notice = el("p", { class: "notice", role: "alert", hidden: "" });
  const input = el("textarea", {
    id: "cw-input",
    rows: "1",
    maxlength: String(MAX_CHARS),
    autocomplete: "off",
    placeholder: t.placeholder,
  });
  const label = el("label", { for: "cw-input", class: "visually-hidden", text: t.message });
  const sendButton = el("button", { type: "submit", class: "send", text: t.send });
  const form = el("form", { class: "composer", "aria-label": t.composer }, label, input, sendButton);
  const panel = el(
    "section",
    { id: "cw-panel", class: "panel", role: "dialog", "aria-labelledby": "cw-title", hidden: "" },
    el("div", { class: "header" }, title, closeButton),
    banner,
    log,
    suggestions,
    notice,
    form,
  );
  // A person's reply while the panel is closed: the log is hidden then, so it cannot announce it.
  const announcer = el("div", { class: "visually-hidden", "aria-live": "polite", "aria-atomic": "true" });
  const badge = el("span", { class: "badge", hidden: "", "aria-hidden": "true", text: "1" });
  const launcherLabel = el("span", { text: t.launcher });
  const unreadLabel = el("span", { class: "visually-hidden", hidden: "", text: t.unread });
  const launcher = el(
    "button",
    { type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "cw-panel" },
    launcherLabel,
    unreadLabel,
    badge,
  );
  root.append(stylesheet, panel, launcher, announcer);

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
    announcer.textContent = "";
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

  const WHO = { customer: t.you, concierge: t.assistant };

  function nearEnd() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollToEnd(force) {
    if (force || nearEnd()) log.scrollTop = log.scrollHeight;
  }

  /** Scroll the log so that ``item`` shows: its end, or its start if it is taller than the log. */
  function reveal(item) {
    const top = item.getBoundingClientRect().top - log.getBoundingClientRect().top;
    if (item.offsetHeight > log.clientHeight) log.scrollTop += top;
    else scrollToEnd(true);
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
    const list = el("ul", { class: "sources", "aria-label": t.sources });
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
    const who = role === "agent" ? t.person(options.agent || t.staff) : WHO[role] || role;
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
    suggestions.hidden = true; // they are for starting a conversation
    if (role === "agent") {
      // A person's answer is what the customer has been waiting for: show it wherever they had
      // scrolled, and say it aloud even with the panel closed.
      if (isOpen()) reveal(item);
      else {
        setUnread(true);
        announcer.textContent = t.newMessage(who, text);
      }
    } else {
      scrollToEnd(role === "customer");
    }
    return entry;
  }

  function removeEntry(entry) {
    entry.el.remove();
    entries.splice(entries.indexOf(entry), 1);
  }

  /** Mark a customer's message as not sent, with a Retry button (or clear the mark: failure null). */
  function markUnsent(entry, failure) {
    if (entry.unsent) entry.unsent.remove();
    entry.unsent = null;
    entry.el.classList.toggle("unsent", Boolean(failure));
    if (!failure) return;
    const retry = el("button", { type: "button", class: "retry", text: t.retry });
    if (failure.retryAfter) {
      // Asking before Retry-After is up would only be refused again.
      retry.disabled = true;
      setTimeout(() => (retry.disabled = false), Math.min(failure.retryAfter, 60) * 1000);
    }
    retry.addEventListener("click", () => {
      if (busy) return;
      input.focus(); // the button goes away
      send(entry.text, entry);
    });
    entry.unsent = el("div", { class: "status" }, el("span", { text: t.notSent }), retry);
    entry.el.append(entry.unsent);
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function setHandoff(state) {
    handoff = state;
    banner.textContent = state ? t.handoff[state] || t.handoff.escalated : "";
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
  // Failures: what the customer is told, and for a misconfiguration what the shop's developer is

  /** A message that did not reach the chat service. kind: "down" (unreachable or 5xx), "cors"
   * (this page's origin is not allowed), "rate" (429) or "refused" (any other refusal). */
  class SendFailure extends Error {
    constructor(kind, { status = 0, retryAfter = 0 } = {}) {
      super(`concierge widget: message not sent (${kind}${status ? ` ${status}` : ""})`);
      this.kind = kind;
      this.status = status;
      this.retryAfter = retryAfter;
    }

    get text() {
      if (this.kind === "rate") return t.rateLimited(this.retryAfter);
      if (this.kind === "refused") return t.refused(this.status);
      return t[this.kind];
    }
  }

  /** Retry-After in whole seconds (it may be a number of seconds or an HTTP date); 0 if absent. */
  function retryAfter(response) {
    const value = response.headers.get("Retry-After");
    if (!value) return 0;
    const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
    return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : 0;
  }

  async function responseFailure(response) {
    const after = retryAfter(response);
    if (response.status === 429) return new SendFailure("rate", { status: 429, retryAfter: after });
    if (response.status >= 500) {
      return new SendFailure("down", { status: response.status, retryAfter: after });
    }
    try {
      const body = await response.clone().json();
      if (body && body.error && body.error.message) {
        console.warn(`concierge widget: the chat service refused the message: ${body.error.message}`);
      }
    } catch (_) {
      /* not our JSON */
    }
    return new SendFailure("refused", { status: response.status });
  }

  let corsReported = false;

  /** Why a fetch failed outright. A browser does not say whether the service is down or refused
   * this page's origin (CORS); a no-cors request, which CORS does not stop, tells them apart. */
  async function networkFailure() {
    if (new URL(API).origin !== location.origin) {
      try {
        await fetch(`${API}/healthz`, { mode: "no-cors", cache: "no-store", credentials: "omit" });
      } catch (_) {
        return new SendFailure("down");
      }
      if (!corsReported) {
        corsReported = true;
        console.error(
          `concierge widget: the chat service at ${API} does not allow requests from this page's ` +
            `origin, ${location.origin}. Add "${location.origin}" to CONCIERGE_API_CORS_ORIGINS ` +
            "(a comma-separated list) in the chat service's settings and restart it.",
        );
      }
      return new SendFailure("cors");
    }
    return new SendFailure("down");
  }

  /** fetch, with a failure to get any response thrown as a SendFailure. */
  async function request(url, init) {
    try {
      return await fetch(url, init);
    } catch (_) {
      throw await networkFailure();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The chat API

  function headers(json) {
    const h = { Authorization: `Bearer ${session.token}` };
    if (json) h["Content-Type"] = "application/json";
    return h;
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
    return request(`${API}/v1/conversations`, {
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
      if (code === "identity_expired") showNotice(t.expired);
      identity = null;
      session = storage.read();
      if (session) return;
      response = await createConversation();
    }
    if (!response.ok) throw await responseFailure(response);
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

  function streamMessage(text) {
    return request(`${API}/v1/conversations/${encodeURIComponent(session.id)}/messages/stream`, {
      method: "POST",
      headers: { ...headers(true), Accept: "text/event-stream" },
      body: JSON.stringify({ text }),
    });
  }

  /** The message posted, its reply streaming: the response, ok; else a SendFailure is thrown. */
  async function postMessage(text) {
    if (!session) await startConversation();
    let response = await streamMessage(text);
    if (response.status === 401 || response.status === 404) {
      // The token expired or the conversation is gone: carry on in a new one.
      forget();
      await startConversation();
      response = await streamMessage(text);
    }
    if (!response.ok || !response.body) throw await responseFailure(response);
    return response;
  }

  /** Send ``text``; ``again`` is the customer's message it is already shown as (a retry). */
  async function send(text, again) {
    setBusy(true);
    showNotice("");
    let mine = again;
    if (mine) {
      markUnsent(mine, null);
      // A retried message goes after whatever came meanwhile, where its answer will be.
      entries.splice(entries.indexOf(mine), 1);
      entries.push(mine);
      log.append(mine.el);
      scrollToEnd(true);
    } else {
      mine = addMessage("customer", text);
    }
    const reply = addMessage("concierge", "", { pending: true });
    const citations = [];
    let streamed = "";
    let finished = false;
    try {
      let response;
      try {
        response = await postMessage(text);
      } catch (error) {
        if (!(error instanceof SendFailure)) console.error(error);
        const failure = error instanceof SendFailure ? error : new SendFailure("down");
        showNotice(failure.text);
        markUnsent(mine, failure);
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
        } else if (event === "reset") {
          // The agent withdrew what it had streamed: the reply sent instead follows.
          streamed = "";
          reply.body.replaceChildren();
        } else if (event === "handoff") {
          setHandoff(body.state);
        } else if (event === "done") {
          finished = true;
          reply.el.removeAttribute("aria-busy");
          if (body.reply) {
            const cited = body.citations || citations;
            reply.text = body.reply;
            reply.body.textContent = body.reply;
            addSources(reply, cited);
            sourcesStore.add(body.reply, cited);
          } else {
            removeEntry(reply); // a person has the conversation: the bot stays silent
          }
          if (body.handed_off) setHandoff("handed_off");
          else if (body.awaiting_approval) setHandoff("awaiting_approval");
          else if (handoff === "handed_off") setHandoff(null);
        } else if (event === "error") {
          finished = true;
          removeEntry(reply);
          if (body.code === "service_unavailable") {
            // Its database was out: the message was not taken, and may be sent again.
            const failure = new SendFailure("down", { retryAfter: Number(body.retry_after) || 0 });
            showNotice(failure.text);
            markUnsent(mine, failure);
          } else {
            showNotice(t.failed);
          }
        }
      }
      if (!finished) {
        showNotice(t.dropped);
        if (!streamed) removeEntry(reply);
      }
    } catch (error) {
      // The stream broke off: the message was taken, so it is not offered again.
      console.error(error);
      showNotice(t.dropped);
      if (entries.includes(reply) && !streamed) removeEntry(reply);
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
      const entry = addMessage(message.role, message.text, { id, agent: message.agent });
      if (message.role === "concierge") addSources(entry, sourcesStore.find(message.text) || []);
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
