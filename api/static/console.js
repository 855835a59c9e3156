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
  let current = null; // the open ticket's id
  let timer = null;

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

  async function signIn(key) {
    apiKey = key;
    try {
      const me = await api("GET", "/v1/agent/me");
      write(KEY_STORAGE, key);
      ui.who.textContent = `Signed in as ${me.staff_id} (${me.role})`;
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
    current = null;
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

  function ticketLine(t) {
    const held = t.claimed_by ? `, claimed by ${t.claimed_by}` : "";
    return `#${t.ticket_id} ${t.kind} · ${t.status} · severity ${t.severity}${held}`;
  }

  async function loadQueue() {
    const status = ui.statusFilter.value;
    const query = status ? `?status=${encodeURIComponent(status)}` : "";
    const data = await api("GET", `/v1/agent/tickets${query}`);
    const items = data.tickets.map((t) => {
      const button = el(
        "button",
        { type: "button", "data-ticket": String(t.ticket_id) },
        el("span", { text: ticketLine(t) }),
        el("span", { class: "summary-line", text: t.summary || "" }),
      );
      if (t.ticket_id === current) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => run(() => openTicket(t.ticket_id)));
      return el("li", null, button);
    });
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
    const parts = [order.order_id, order.status].filter(Boolean);
    if (order.total_cents !== undefined) parts.push(`$${(order.total_cents / 100).toFixed(2)}`);
    return parts.join(" · ") || JSON.stringify(order);
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
      t.claimed_by ? `claimed by ${t.claimed_by}` : "not claimed",
      `severity ${t.severity}`,
      `created ${t.created_at}`,
      handedOff ? "a person has the conversation" : "the bot has the conversation",
    ];
    if (t.order_id) facts.push(`order ${t.order_id}`);
    ui.meta.textContent = facts.join(" · ");

    ui.summary.textContent = (handoff && handoff.summary) || t.summary || "";
    const reasons = (handoff && handoff.reasons) || [];
    ui.reasons.replaceChildren(...reasons.map((r) => el("li", { text: r })));
    if (!reasons.length) ui.reasons.append(el("li", { text: "None given." }));
    const customer = (handoff && handoff.customer_id) || t.customer_id;
    ui.identity.textContent = customer ? `Verified customer ${customer}` : "Not verified";
    const orders = (handoff && handoff.orders) || [];
    ui.orders.replaceChildren(...orders.map((o) => el("li", { text: orderLine(o) })));
    if (!orders.length) ui.orders.append(el("li", { text: "None." }));

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
    if (id !== current) ui.notice.textContent = "";
    render(await api("GET", `/v1/agent/tickets/${id}`));
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
    if (key) signIn(key);
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
  ui.replyName.value = read(NAME_STORAGE) || ui.replyName.value;
  ui.replyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.replyText.value.trim();
    const name = ui.replyName.value.trim() || "support";
    if (!text) return;
    write(NAME_STORAGE, name);
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

  if (apiKey) signIn(apiKey);
})();
