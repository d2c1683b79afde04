// The live board: a snapshot on connect, then deltas; reconnects by itself.
"use strict";

const PROTOCOL_VERSION = 1;
const AMBER_AFTER_S = 10;
const RED_AFTER_S = 15; // NEN 8878: answer within 15 seconds
// t(text, {placeholders}): the page's language, from static/i18n.js (loaded first).
const CONFIDENCE_TEXT = {
  verified: t("recognised"),
  unverified: t("recognised by number — verify"),
  shared: t("shared number"),
};

const calls = new Map(); // call_id -> call
let selectedCall = null; // the call whose caller card is open

// Other parts of the board (presence, call control) plug in here rather than editing
// this file: they are loaded after it and register for the message types they own.
const messageHandlers = new Map(); // type -> [fn(message)]
const renderHooks = [];
const board = {
  calls,
  /** fn(message) for every message of ``type`` ("snapshot" and "resync" included). */
  onMessage(type, fn) {
    if (!messageHandlers.has(type)) messageHandlers.set(type, []);
    messageHandlers.get(type).push(fn);
  },
  /** fn() after every render (state changed). */
  onRender(fn) { renderHooks.push(fn); },
  render: () => render(),
  t,
  selectedCallId: () => selectedCall,
  /** POST JSON with the CSRF token; resolves to {ok, status, data}. */
  async post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-CSRF-Token": document.querySelector("meta[name=csrf-token]").content,
      },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch { data = { error: `HTTP ${response.status}` }; }
    return { ok: response.ok, status: response.status, data };
  },
  /** Say in ``element`` whether a form's POST (``reply`` from post()) was saved, and
   *  if not, every refused field with its reason. */
  report(element, reply) {
    if (reply.ok) {
      element.textContent = t("Saved.");
      return;
    }
    const errors = reply.data.errors
      ? Object.entries(reply.data.errors).map(([field, text]) => `${field}: ${text}`).join("; ")
      : reply.data.error;
    element.textContent = t("Not saved: {error}", { error: errors });
  },
};
window.board = board;

function connect(attempt) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => { attempt = 0; };
  socket.onmessage = (event) => handle(JSON.parse(event.data));
  socket.onclose = (event) => {
    setLink(false);
    if (event.code === 1008 || event.code === 4401) { location.href = "/login"; return; }
    const delay = Math.min(5000, 250 * 2 ** attempt);
    setTimeout(() => connect(attempt + 1), delay);
  };
}

function handle(message) {
  if (message.v !== PROTOCOL_VERSION) { console.warn("unknown protocol version", message); return; }
  switch (message.type) {
    case "snapshot":
      calls.clear();
      for (const call of message.calls) calls.set(call.call_id, call);
      waits.clear();
      for (const w of message.waits || []) waits.set(w.call_id, w);
      for (const p of message.pbx) setPbx(p.name, p.connected);
      setLink(message.pbx.length > 0 && message.pbx.every((p) => p.connected));
      break;
    case "call": calls.set(message.call.call_id, message.call); break;
    case "call_ended":
      calls.delete(message.call.call_id);
      waits.delete(message.call.call_id);
      repeats.delete(message.call.call_id);
      break;
    case "waits":
      for (const [id, call] of calls) if (call.pbx === message.pbx) waits.delete(id);
      for (const w of message.waits) waits.set(w.call_id, w);
      // Only the waiting calls' words change: nothing is rebuilt, so a selection,
      // its buttons and a drag onto a colleague's tile are left alone.
      for (const li of document.querySelectorAll(".call[data-call-id]")) {
        const call = calls.get(li.dataset.callId);
        if (call) li.querySelector(".detail").textContent = describe(call);
      }
      return;
    case "resync":
      for (const [id, call] of calls) if (call.pbx === message.pbx) calls.delete(id);
      break;
    case "pbx":
      setPbx(message.pbx.name, message.pbx.connected);
      setLink([...pbxConnected.values()].every(Boolean));
      break;
    default:
      if (!messageHandlers.has(message.type)) return;
  }
  for (const fn of messageHandlers.get(message.type) || []) fn(message);
  render();
}

function setLink(up) {
  const link = document.getElementById("link");
  link.textContent = up ? t("Live") : t("Not connected to the PBX — reconnecting…");
  link.className = "link " + (up ? "link-up" : "link-down");
}

// Answered calls (talking, on hold during a transfer, parked) are "in conversation";
// everything else still waits for somebody and runs the 15-second clock.
const ANSWERED_STATES = new Set(["talking", "held", "parked"]);
// call_id -> the expected wait the PBX's bridge estimates ({minutes, more_than}).
const waits = new Map();

function waitText(call) {
  const w = waits.get(call.call_id);
  if (!w) return "";
  return w.more_than
    ? t("more than {minutes} min", { minutes: w.minutes })
    : t("about {minutes} min", { minutes: w.minutes });
}
const pbxConnected = new Map(); // pbx -> connected; calls of a lost PBX are shown as stale
const pbxLostAt = new Map(); // pbx -> when the board lost it (seconds): stale clocks stop there

function setPbx(name, connected) {
  if (!connected && pbxConnected.get(name) !== false) pbxLostAt.set(name, Date.now() / 1000);
  if (connected) pbxLostAt.delete(name);
  pbxConnected.set(name, connected);
}

function render() {
  renderCalls();
  for (const fn of renderHooks) fn();
  tick();
}

function renderCalls() {
  const waiting = [], talking = [];
  for (const call of calls.values()) (ANSWERED_STATES.has(call.state) ? talking : waiting).push(call);
  const byStart = (a, b) => a.started_at - b.started_at;
  // Who is answered next comes first: queue places (a VIP joins in front), then the rest.
  const byPlace = (a, b) =>
    (!a.queue_position - !b.queue_position) ||
    (a.queue || "").localeCompare(b.queue || "") ||
    (a.queue_position - b.queue_position) || byStart(a, b);
  fill("waiting", waiting.sort(byPlace));
  fill("talking", talking.sort(byStart));
}

// Where the fallback chain has the caller now, and why the queue gave them up
// (extensions.conf [switchboard-fallback]; Call.fallback in the call model).
function fallbackText(call) {
  const steps = call.fallback || [];
  if (!steps.length || ANSWERED_STATES.has(call.state)) return "";
  const step = {
    operator: t("ringing the operator"),
    backoffice: t("waiting in the back office"),
    callback: t("asking to be called back"),
    voicemail: t("leaving a voicemail"),
    urgent: t("ringing the on-call line"),
    goodbye: t("hearing the goodbye"),
  }[steps[steps.length - 1].step];
  const why = {
    waited: t("no answer in time"),
    nobody: t("no receptionist available"),
    full: t("the queue was full"),
    closed: t("we are closed"),
  }[call.fallback_reason];
  return step ? (why ? `${step}: ${why}` : step) : "";
}

function describe(call) {
  const fallback = fallbackText(call);
  if (fallback) return fallback;
  switch (call.state) {
    case "talking": return t("with {party}", { party: call.talking_with });
    case "held": return t("on hold");
    case "parked": return t("parked in {space}", { space: call.parked_space || "?" });
    case "queued": {
      const where = call.queue_position
        ? t("in queue {queue}, position {position}", { queue: call.queue, position: call.queue_position })
        : t("in queue {queue}", { queue: call.queue });
      const wait = waitText(call);
      return wait ? `${where} · ${wait}` : where;
    }
    default: return t("ringing");
  }
}

function fill(listId, list) {
  const ol = document.getElementById(listId);
  const template = document.getElementById("call-template");
  ol.replaceChildren(...list.map((call) => {
    const li = template.content.firstElementChild.cloneNode(true);
    li.dataset.callId = call.call_id;
    li.dataset.number = call.caller_number;
    li.classList.toggle("selected", call.call_id === selectedCall);
    li.dataset.state = call.state;
    // Answered calls count from when this conversation began (a transfer restarts it).
    li.dataset.since = ANSWERED_STATES.has(call.state)
      ? (call.talking_since || call.answered_at || call.started_at) : call.started_at;
    const stale = pbxConnected.get(call.pbx) === false;
    li.classList.toggle("stale", stale);
    li.dataset.until = stale ? pbxLostAt.get(call.pbx) : "";
    li.title = stale ? t("Last known state: the PBX is not connected") : "";
    li.querySelector(".caller-name").textContent =
      call.caller_name || call.caller_number || t("Withheld number");
    li.querySelector(".caller-number").textContent = call.caller_name ? call.caller_number : "";
    li.querySelector(".confidence").textContent = CONFIDENCE_TEXT[call.confidence] || "";
    li.querySelector(".detail").textContent = describe(call);
    li.querySelector(".repeat").textContent = ANSWERED_STATES.has(call.state) ? "" : repeatText(call);
    if (!ANSWERED_STATES.has(call.state) && call.caller_number && !repeats.has(call.call_id)) {
      askRepeat(call);
    }
    return li;
  }));
  document.getElementById(`${listId}-count`).textContent = list.length;
}

// A caller who called before today: "called 3 times today, missed twice" on their
// waiting row, asked once per call (the journal counts their earlier calls).
const repeats = new Map(); // call_id -> {earlier, missed}, null while asked

async function askRepeat(call) {
  repeats.set(call.call_id, null);
  const query = `number=${encodeURIComponent(call.caller_number)}&call=${encodeURIComponent(call.call_id)}`;
  const response = await fetch(`/api/worklist/today?${query}`, { credentials: "same-origin" });
  if (!response.ok || !calls.has(call.call_id)) return;
  repeats.set(call.call_id, await response.json());
  const li = document.querySelector(`.call[data-call-id="${CSS.escape(call.call_id)}"]`);
  if (li && !ANSWERED_STATES.has(li.dataset.state)) li.querySelector(".repeat").textContent = repeatText(call);
}

function repeatText(call) {
  const seen = repeats.get(call.call_id);
  if (!seen || !seen.earlier) return "";
  const times = t("called {n} times today", { n: String(seen.earlier + 1) });
  if (!seen.missed) return times;
  const missed = seen.missed === 1 ? t("missed once")
    : seen.missed === 2 ? t("missed twice") : t("missed {n} times", { n: String(seen.missed) });
  return `${times}, ${missed}`;
}

function tick() {
  const now = Date.now() / 1000;
  for (const li of document.querySelectorAll(".call")) {
    const until = li.dataset.until ? Number(li.dataset.until) : now;
    const seconds = Math.max(0, Math.floor(until - Number(li.dataset.since)));
    li.querySelector(".timer").textContent =
      `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    const waiting = !ANSWERED_STATES.has(li.dataset.state);
    li.classList.toggle("red", waiting && seconds > RED_AFTER_S);
    li.classList.toggle("amber", waiting && seconds >= AMBER_AFTER_S && seconds <= RED_AFTER_S);
  }
}

// -- caller card ----------------------------------------------------------------------

async function openCard(li) {
  selectedCall = li.dataset.callId;
  render();
  const card = document.getElementById("card");
  const number = li.dataset.number;
  card.hidden = false;
  card.querySelector(".card-note-status").textContent = "";
  card.querySelector("textarea").value = "";
  if (!number) {
    fillCard({ contacts: [], number: "", explanation: t("Number withheld: ask who is calling."), history: [] });
    return;
  }
  const response = await fetch(`/api/caller?number=${encodeURIComponent(number)}`);
  if (!response.ok) {
    card.querySelector(".card-explanation").textContent = t("Could not load the caller card.");
    return;
  }
  fillCard(await response.json());
}

function fillCard(data) {
  const card = document.getElementById("card");
  const names = data.contacts.map((c) => (c.company ? `${c.name} (${c.company})` : c.name));
  card.querySelector(".card-name").textContent = names.join(", ") || t("Unknown caller");
  card.querySelector(".card-number").textContent = data.number;
  card.querySelector(".card-explanation").textContent = data.explanation;
  // Edit (or verify) the contact in the contacts tab, so the board stays live here.
  let edit = card.querySelector(".card-edit");
  if (!edit) {
    edit = document.createElement("p");
    edit.className = "card-edit";
    card.querySelector(".card-number").after(edit);
  }
  edit.replaceChildren(...data.contacts.map((c) => {
    const link = document.createElement("a");
    link.href = `/contacts#${c.contact_id}`;
    link.target = "switchboard-contacts";
    link.textContent =
      data.contacts.length > 1 ? t("Edit {name}", { name: c.name }) : t("Edit contact");
    return link;
  }));
  card.querySelector(".card-history").replaceChildren(...data.history.map((h) => {
    const item = document.createElement("li");
    const when = formatWhen(h.started_at);
    item.textContent = `${when}: ${h.outcome}${h.note ? ` — ${h.note}` : ""}`;
    return item;
  }));
}

async function saveNote(event) {
  event.preventDefault();
  const status = document.querySelector(".card-note-status");
  const note = document.querySelector(".card-note textarea").value;
  const reply = await board.post("/api/calls/note", { call_id: selectedCall, note });
  board.report(status, reply);
}

document.addEventListener("click", (event) => {
  const li = event.target.closest(".call");
  if (li) openCard(li);
});
document.addEventListener("keydown", (event) => {
  const li = event.target.closest && event.target.closest(".call");
  if (li && event.key === "Enter") openCard(li);
});
document.querySelector(".card-note").addEventListener("submit", saveNote);

setInterval(tick, 1000);
connect(0);
