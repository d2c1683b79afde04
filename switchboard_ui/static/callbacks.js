// Callbacks on the board (issue 14): every request in line with its place, how long its
// caller has waited, its attempts and who dials it; a receptionist schedules one for a
// caller they could not help now, or cancels one with a reason. The service dials them
// (ami_bridge/callback_dialer.py); this only shows and asks. A "callbacks" message on
// the websocket says the list changed. Plugs into board.js (window.board).
"use strict";
{
  const board = window.board;
  const t = board.t;
  const list = document.getElementById("callbacks");
  const count = document.getElementById("callbacks-count");
  const form = document.getElementById("callback-form");
  const status = document.getElementById("callback-status");
  const ACTIVE = new Set(["requested", "waiting", "dialling", "connected"]);
  const STATES = {
    requested: t("requested"),
    waiting: t("waiting"),
    dialling: t("dialling"),
    connected: t("connected"),
    done: t("done"),
    "not reached": t("not reached"),
    cancelled: t("cancelled"),
    expired: t("expired"),
  };

  function clock(seconds) {
    const m = Math.floor(seconds / 60);
    return `${m}:${String(seconds % 60).padStart(2, "0")}`;
  }

  function describe(c) {
    const words = [STATES[c.state] || c.state];
    if (c.place) words.push(t("place {place}", { place: String(c.place) }));
    if (ACTIVE.has(c.state)) words.push(t("waited {time}", { time: clock(c.waited_s) }));
    if (c.attempts) words.push(t("attempt {n}", { n: String(c.attempts) }));
    if (c.member && ACTIVE.has(c.state)) {
      const who = c.member_name ? `${c.member_name} (${c.member})` : c.member;
      words.push(t("by {who}", { who }));
    }
    return words.join(" · ");
  }

  function button(text, url, body) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.addEventListener("click", async () => {
      const reply = await board.post(url, body());
      if (!reply.ok) board.report(status, reply);
      load();
    });
    return element;
  }

  // A field (labelled ``label``) and the button that sends its value along.
  function withField(type, label, text, url, body) {
    const field = document.createElement("input");
    field.type = type;
    if (type === "text") field.maxLength = 200;
    field.setAttribute("aria-label", label);
    const span = document.createElement("span");
    span.append(field, " ", button(text, url, () => body(field.value.trim())));
    return span;
  }

  async function load() {
    const response = await fetch("/api/callbacks", { credentials: "same-origin" });
    if (!response.ok) return;
    const { callbacks } = await response.json();
    count.textContent = String(callbacks.filter((c) => ACTIVE.has(c.state)).length);
    list.replaceChildren(...callbacks.map((c) => {
      const li = document.createElement("li");
      li.className = `callback callback-${c.state.replace(" ", "-")}`;
      li.dataset.id = String(c.id);
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = c.name ? `${c.name} (${c.number})` : c.number;
      const detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = describe(c);
      li.append(who, " ", detail);
      // (Call now takes only a waiting one: a requested one is still being confirmed.)
      if (c.state === "waiting") {
        li.append(" ", button(t("Call back now"), "/api/callbacks/now", () => ({ id: c.id })));
      }
      if (c.state === "waiting" || c.state === "requested") {
        // "Later": not before a time of day, keeping its place.
        li.append(" ", withField("time", t("Not before"), t("Later"),
          "/api/callbacks/reschedule", (after) => ({ id: c.id, after })));
        // The reason is what the next receptionist (and the caller's history) reads.
        li.append(" ", withField("text", t("Reason"), t("Cancel"),
          "/api/callbacks/cancel", (reason) => ({ id: c.id, reason })));
      }
      return li;
    }));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reply = await board.post("/api/callbacks", {
      number: form.elements.number.value.trim(),
      name: form.elements.name.value.trim(),
    });
    board.report(status, reply);
    if (reply.ok) form.reset();
    load();
  });

  board.onMessage("callbacks", load);
  board.onMessage("snapshot", load);
  // The waited times move on while nothing changes.
  setInterval(load, 15000);
  load();
}
