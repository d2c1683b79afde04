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

  // "Later": not before a time of day, keeping its place.
  function later(c) {
    const time = document.createElement("input");
    time.type = "time";
    time.setAttribute("aria-label", t("Not before"));
    const span = document.createElement("span");
    span.append(time, " ", button(t("Later"), "/api/callbacks/reschedule", () => ({
      id: c.id, after: time.value,
    })));
    return span;
  }

  // "Cancel", with the reason the next receptionist (and the caller's history) reads.
  function cancel(c) {
    const why = document.createElement("input");
    why.type = "text";
    why.maxLength = 200;
    why.setAttribute("aria-label", t("Reason"));
    const span = document.createElement("span");
    span.append(why, " ", button(t("Cancel"), "/api/callbacks/cancel", () => ({
      id: c.id, reason: why.value.trim(),
    })));
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
      if (c.state === "waiting" || c.state === "requested") {
        li.append(
          " ", button(t("Call back now"), "/api/callbacks/now", () => ({ id: c.id })),
          " ", later(c),
          " ", cancel(c),
        );
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
