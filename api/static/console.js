/*
 * concierge agent console (/console): the human agents' ticket queue over the /v1/agent endpoints.
 *
 * Plain JavaScript, no dependencies. The staff API key lives in sessionStorage (this tab only) and
 * goes out as `Authorization: Bearer <key>` to the same origin. Everything a customer or the bot
 * wrote is shown with textContent, never parsed as HTML.
 */
(() => {
  "use strict";

  const KEY_STORAGE = "concierge-console:key";
  const NAME_STORAGE = "concierge-console:name";
  const POLL_MS = 15000;

  const $ = (id) => document.getElementById(id);
  const ui = {
    who: $("who"),
    signOut: $("sign-out"),
    error: $("error"),
    signIn: $("sign-in"),
    staffName: $("staff-name"),
    apiKey: $("api-key"),
    desk: $("desk"),
    statusFilter: $("status-filter"),
    refresh: $("refresh"),
    updated: $("queue-updated"),
    tickets: $("tickets"),
    detail: $("detail"),
    title: $("detail-title"),
    meta: $("ticket-meta"),
    claim: $("claim"),
    release: $("release"),
    handBack: $("hand-back"),
    notice: $("notice"),
    wants: $("wants"),
    summary: $("summary"),
    reasons: $("reasons"),
    identity: $("identity"),
    orders: $("orders"),
    approvalBox: $("approval-box"),
    approval: $("approval"),
    approvalArguments: $("approval-arguments"),
    rejectReason: $("reject-reason"),
    approve: $("approve"),
    reject: $("reject"),
    conversation: $("conversation"),
    suggestion: $("suggestion"),
    suggestionStatus: $("suggestion-status"),
    sources: $("sources"),
    useSuggestion: $("use-suggestion"),
    suggestAgain: $("suggest-again"),
    replyForm: $("reply-form"),
    replyName: $("reply-name"),
    replyText: $("reply-text"),
    sendReply: $("send-reply"),
    transcript: $("transcript"),
    resolveForm: $("resolve-form"),
    resolveNote: $("resolve-note"),
    resolve: $("resolve"),
  };

  let apiKey = read(KEY_STORAGE);
  let me = null; // who signed in: staff_id, role, name
  let current = null; // the open ticket's id
  let suggested = ""; // the suggested reply for the open ticket
  let timer = null;
  let clockOffset = 0; // the server's clock less this browser's, in ms

  function read(name) {
    try {
      return sessionStorage.getItem(name) || "";
    } catch (_) {
      return "";
    }
  }

  function write(name, value) {
    try {
      if (value) sessionStorage.setItem(name, value);
      else sessionStorage.removeItem(name);
    } catch (_) {
      /* storage disabled: the key lasts as long as the page */
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function showError(message) {
    ui.error.textContent = message;
    ui.error.hidden = !message;
  }

  // ---------------------------------------------------------------------------------------------
  // The API

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${apiKey}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (_) {
      throw new Error("The service cannot be reached.");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const message = error.message || (typeof (data && data.detail) === "string" ? data.detail : "");
      const err = new Error(`${response.status}${error.code ? ` ${error.code}` : ""}: ${message || response.statusText}`);
      err.status = response.status;
      throw err;
    }
    return data;
  }

  // ---------------------------------------------------------------------------------------------
  // Signing in and out

  const ROLES = { agent: "agent", admin: "administrator" };

  // Staff are shown by the name they signed in with, never by the id derived from their key.
  function whoIs(name) {
    return name || "an agent who gave no name";
  }

  async function signIn(key, name) {
    apiKey = key;
    try {
      me = name ? await api("POST", "/v1/agent/sign-in", { name }) : await api("GET", "/v1/agent/me");
      write(KEY_STORAGE, key);
      write(NAME_STORAGE, me.name || "");
      if (me.name) ui.replyName.value = me.name;
      const role = ROLES[me.role] || me.role;
      ui.who.textContent = me.name ? `Signed in as ${me.name} (${role})` : `Signed in as an ${role} (no name given)`;
      ui.signIn.hidden = true;
      ui.signOut.hidden = false;
      ui.desk.hidden = false;
      showError("");
      await loadQueue();
      if (timer === null) timer = setInterval(poll, POLL_MS);
    } catch (err) {
      signOut();
      showError(err.message);
    }
  }

  function signOut() {
    apiKey = "";
    me = null;
    current = null;
    suggested = "";
    write(KEY_STORAGE, "");
    if (timer !== null) clearInterval(timer);
    timer = null;
    ui.who.textContent = "Not signed in";
    ui.signOut.hidden = true;
    ui.desk.hidden = true;
    ui.detail.hidden = true;
    ui.signIn.hidden = false;
    ui.tickets.replaceChildren();
    ui.apiKey.value = "";
  }

  // ---------------------------------------------------------------------------------------------
  // The queue

  const SEVERITY = { 1: "very low", 2: "low", 3: "medium", 4: "high", 5: "critical" };

  // "just now", "4 min ago", "2 h ago", "3 days ago", by the server's clock.
  function ago(iso) {
    const then = Date.parse(iso || "");
    if (Number.isNaN(then)) return "at an unknown time";
    const minutes = Math.floor(Math.max(0, Date.now() + clockOffset - then) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return `${minutes} min ago`;
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return `${hours} h ago`;
    const days = Math.floor(hours / 24);
    return days === 1 ? "1 day ago" : `${days} days ago`;
  }

  function holder(t) {
    if (!t.claimed_by) return "not claimed";
    if (me && t.claimed_by === me.staff_id) return "claimed by you";
    return `claimed by ${whoIs(t.claimed_by_name)}`;
  }

  function severity(t) {
    return `severity ${t.severity} (${SEVERITY[t.severity] || "unknown"})`;
  }

  function customerName(t) {
    return t.customer_name || (t.customer_id ? "Verified customer" : "Guest (not verified)");
  }

  function queueItem(t) {
    const waited = t.status === "resolved" ? `resolved ${ago(t.resolved_at)}` : `waiting since ${ago(t.created_at)}`;
    const button = el(
      "button",
      { type: "button", "data-ticket": String(t.ticket_id) },
      el(
        "span",
        { class: "line" },
        el("strong", { class: "customer", text: customerName(t) }),
        t.vip ? el("span", { class: "badge vip", text: "VIP" }) : null,
        el("span", { class: `badge severity s${t.severity}`, text: severity(t) }),
      ),
      el("span", { class: "wants", text: t.wants }),
      t.last_message ? el("q", { class: "last-message", text: t.last_message }) : null,
      el("span", { class: "muted", text: `#${t.ticket_id} ${t.kind} · ${t.status} · ${holder(t)} · ${waited}` }),
    );
    if (t.ticket_id === current) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => run(() => openTicket(t.ticket_id)));
    return el("li", null, button);
  }

  function setClock(now) {
    const server = Date.parse(now || "");
    if (!Number.isNaN(server)) clockOffset = server - Date.now();
  }

  async function loadQueue() {
    const status = ui.statusFilter.value;
    const query = status ? `?status=${encodeURIComponent(status)}` : "";
    const data = await api("GET", `/v1/agent/tickets${query}`);
    setClock(data.now);
    const items = data.tickets.map(queueItem);
    if (!items.length) items.push(el("li", { class: "muted", text: "No tickets." }));
    ui.tickets.replaceChildren(...items);
    ui.updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  // ---------------------------------------------------------------------------------------------
  // One ticket

  function messages(list, items) {
    list.replaceChildren(
      ...items.map((m) => {
        const who = m.role === "agent" ? `agent ${m.agent || ""}`.trim() : m.role;
        return el("li", { class: m.role }, el("span", { class: "who", text: who }), el("span", { text: m.text }));
      }),
    );
    if (!items.length) list.append(el("li", { text: "Nothing yet." }));
  }

  function orderLine(order) {
    const items = order.items.length === 1 ? "1 item" : `${order.items.length} items`;
    const parts = [order.order_id, order.status, `${items}: ${order.items.join(", ")}`, `$${order.total.toFixed(2)}`];
    if (order.placed_at) parts.push(`placed ${ago(order.placed_at)}`);
    return parts.join(" · ");
  }

  function render(detail) {
    const t = detail.ticket;
    const handoff = detail.handoff;
    const conversation = detail.conversation;
    const approval = detail.approval;
    const handedOff = Boolean(conversation && conversation.handed_off);
    current = t.ticket_id;
    ui.detail.hidden = false;
    ui.title.textContent = `Ticket #${t.ticket_id} (${t.kind})`;
    const facts = [
      `status ${t.status}`,
      holder(t),
      severity(t),
      `opened ${ago(t.created_at)}`,
      handedOff ? "a person has the conversation" : "the bot has the conversation",
    ];
    if (t.order_id) facts.push(`order ${t.order_id}`);
    ui.meta.textContent = facts.join(" · ");

    ui.wants.textContent = t.wants;
    ui.summary.textContent = (handoff && handoff.summary) || t.summary || "";
    const reasons = (handoff && handoff.reasons) || [];
    ui.reasons.replaceChildren(...reasons.map((r) => el("li", { text: r })));
    if (!reasons.length) ui.reasons.append(el("li", { text: "None given." }));
    ui.identity.textContent = t.customer_id
      ? `${customerName(t)} (verified)${t.vip ? " · VIP" : ""}`
      : "Not verified: a guest, or a customer who has not proved who they are.";
    ui.orders.replaceChildren(...detail.orders.map((o) => el("li", { text: orderLine(o) })));
    if (!detail.orders.length) ui.orders.append(el("li", { text: "None." }));

    ui.approvalBox.hidden = !approval;
    if (approval) {
      const amount = approval.amount !== undefined && approval.amount !== null ? ` (amount ${approval.amount})` : "";
      ui.approval.textContent = `${approval.tool}${amount}: ${approval.summary || ""}`;
      ui.approvalArguments.textContent = JSON.stringify(approval.arguments || {}, null, 2);
    }

    messages(ui.conversation, (conversation && conversation.messages) || []);
    messages(ui.transcript, (handoff && handoff.transcript) || []);

    const resolved = t.status === "resolved";
    ui.claim.disabled = t.status !== "open";
    ui.release.disabled = t.status !== "claimed";
    ui.handBack.disabled = !handedOff;
    ui.sendReply.disabled = !handedOff;
    ui.replyText.disabled = !handedOff;
    ui.resolve.disabled = resolved;
    ui.approve.disabled = !approval;
    ui.reject.disabled = !approval;

    for (const button of ui.tickets.querySelectorAll("button[data-ticket]")) {
      if (button.dataset.ticket === String(t.ticket_id)) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  async function openTicket(id) {
    const another = id !== current;
    if (another) ui.notice.textContent = "";
    render(await api("GET", `/v1/agent/tickets/${id}`));
    if (another) {
      if (ui.replyText.value === suggested) ui.replyText.value = "";
      suggested = "";
      // Not awaited: the ticket's actions need not wait for the knowledge base.
      suggest(id).catch((err) => {
        if (id === current) ui.suggestionStatus.textContent = `No suggestion: ${err.message || err}`;
      });
    }
  }

  // The copilot's reply for the ticket, with its sources; it goes into the reply box unless the
  // staff member has started writing there.
  async function suggest(id) {
    ui.suggestionStatus.textContent = "Looking for a suggestion…";
    ui.suggestion.textContent = "";
    ui.sources.replaceChildren();
    const data = await api("GET", `/v1/agent/tickets/${id}/suggestion`);
    if (id !== current) return;
    ui.suggestionStatus.textContent = data.citations.length
      ? "From the knowledge base; edit it before sending if it needs it."
      : "Nothing in the knowledge base answers this; a holding reply.";
    ui.suggestion.textContent = data.reply;
    const sources = data.passages.map((p) =>
      el(
        "li",
        { "data-ref": p.ref },
        el("strong", { text: p.title || p.ref }),
        el("span", { class: "muted", text: ` ${p.ref}${data.citations.includes(p.ref) ? " (cited)" : ""}` }),
        el("q", { text: p.excerpt }),
      ),
    );
    if (!sources.length) sources.push(el("li", { text: "None." }));
    ui.sources.replaceChildren(...sources);
    if (!ui.replyText.disabled && (ui.replyText.value.trim() === "" || ui.replyText.value === suggested)) {
      ui.replyText.value = data.reply;
    }
    suggested = data.reply;
  }

  async function act(endpoint, body, done) {
    const id = current;
    if (id === null) return;
    const result = await api("POST", `/v1/agent/tickets/${id}/${endpoint}`, body);
    ui.notice.textContent = result.reply ? `${done} The customer was told: ${result.reply}` : done;
    await openTicket(id);
    await loadQueue();
  }

  // Runs an action, showing what went wrong as text; buttons wait while it runs.
  let running = false;
  async function run(task) {
    if (running) return;
    running = true;
    try {
      await task();
      showError("");
    } catch (err) {
      if (err.status === 401) signOut();
      showError(err.message || String(err));
    } finally {
      running = false;
    }
  }

  async function poll() {
    if (running || !apiKey || document.hidden) return;
    await run(async () => {
      await loadQueue();
      if (current !== null) await openTicket(current);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  ui.signIn.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = ui.apiKey.value.trim();
    if (key) signIn(key, ui.staffName.value.trim());
  });
  ui.signOut.addEventListener("click", () => {
    signOut();
    showError("");
  });
  ui.refresh.addEventListener("click", () =>
    run(async () => {
      await loadQueue();
      if (current !== null) await openTicket(current);
    }),
  );
  ui.statusFilter.addEventListener("change", () => run(loadQueue));
  ui.claim.addEventListener("click", () => run(() => act("claim", undefined, "Claimed.")));
  ui.release.addEventListener("click", () => run(() => act("release", undefined, "Released to the queue.")));
  ui.handBack.addEventListener("click", () => run(() => act("hand-back", undefined, "Handed back to the bot.")));
  ui.approve.addEventListener("click", () =>
    run(() => act("approval", { action: "approve" }, "Approved.")),
  );
  ui.reject.addEventListener("click", () =>
    run(async () => {
      const reason = ui.rejectReason.value.trim();
      await act("approval", reason ? { action: "reject", reason } : { action: "reject" }, "Rejected.");
      ui.rejectReason.value = "";
    }),
  );
  ui.useSuggestion.addEventListener("click", () => {
    if (suggested) ui.replyText.value = suggested;
    ui.replyText.focus();
  });
  ui.suggestAgain.addEventListener("click", () => run(() => (current === null ? undefined : suggest(current))));
  ui.staffName.value = read(NAME_STORAGE);
  ui.replyName.value = read(NAME_STORAGE) || ui.replyName.value;
  ui.replyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.replyText.value.trim();
    const name = ui.replyName.value.trim() || "support";
    if (!text) return;
    run(async () => {
      await act("reply", { text, name }, "Reply sent.");
      ui.replyText.value = "";
    });
  });
  ui.resolveForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const note = ui.resolveNote.value.trim();
    run(async () => {
      await act("resolve", { note }, "Resolved.");
      ui.resolveNote.value = "";
    });
  });

  if (apiKey) signIn(apiKey, read(NAME_STORAGE));
})();
