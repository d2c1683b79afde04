// Presence on the board: who can take a call. A grid of every extension (state in
// words, DND badge, who they talk with and for how long, status note), the queue's
// members with their pause, and a form to set DND or a status with note and return
// time. The PBX holds the state; the form asks the server, the grid shows what the
// PBX then reports. Plugs into board.js (window.board).
"use strict";
{
  const board = window.board;
  const t = board.t;
  const extensions = new Map(); // "pbx/ext" -> extension as the hub sends it
  const connected = new Map(); // pbx -> connected; tiles of a lost PBX are shown as stale
  const STATE_TEXT = {
    available: t("available"),
    dnd: t("do not disturb"),
    away: t("away"),
    in_use: t("in a call"),
    ringing: t("ringing"),
    on_hold: t("on hold"),
    unavailable: t("phone offline"),
  };
  const key = (e) => `${e.pbx}/${e.extension}`;
  const byNumber = (a, b) =>
    a.extension.length - b.extension.length || a.extension.localeCompare(b.extension);

  board.onMessage("snapshot", (message) => {
    extensions.clear();
    for (const p of message.pbx) connected.set(p.name, p.connected);
    for (const e of message.extensions || []) extensions.set(key(e), e);
  });
  board.onMessage("resync", (message) => {
    for (const [k, e] of extensions) if (e.pbx === message.pbx) extensions.delete(k);
  });
  board.onMessage("extension", (message) => extensions.set(key(message.extension), message.extension));
  board.onMessage("pbx", (message) => connected.set(message.pbx.name, message.pbx.connected));
  board.onMessage("extension_removed", (message) => extensions.delete(key(message.extension)));
  board.onRender(render);

  function statusNote(e) {
    if (e.note && e.until) return t("{note} until {time}", { note: e.note, time: e.until });
    if (e.until) return t("back at {time}", { time: e.until });
    return e.note;
  }

  function render() {
    const list = [...extensions.values()].sort(byNumber);
    const grid = document.getElementById("extensions");
    const template = document.getElementById("extension-template");
    grid.replaceChildren(...list.map((e) => {
      const li = template.content.firstElementChild.cloneNode(true);
      li.dataset.extension = e.extension;
      li.dataset.pbx = e.pbx;
      li.dataset.shown = e.shown;
      li.dataset.since = e.talking_since ?? "";
      li.classList.toggle("chosen", e.extension === chosenExtension());
      const stale = connected.get(e.pbx) === false;
      li.classList.toggle("stale", stale);
      li.title = stale ? t("Last known state: the PBX is not connected") : "";
      li.querySelector(".ext-name").textContent = e.name || e.extension;
      li.querySelector(".ext-number").textContent = e.extension;
      li.querySelector(".ext-state").textContent = STATE_TEXT[e.shown] || e.shown;
      // DND while in a call still shows: the call ends, DND stays.
      li.querySelector(".ext-dnd").hidden = !(e.dnd && e.shown !== "dnd");
      li.querySelector(".ext-talk").textContent =
        e.talking_with ? t("with {party}", { party: e.talking_with }) : "";
      li.querySelector(".ext-note").textContent = statusNote(e);
      li.querySelector(".ext-queue").textContent = e.queues
        .map((q) => (q.paused ? t("queue {queue}: paused", { queue: q.queue })
          : t("queue {queue}", { queue: q.queue })))
        .join(", ");
      li.setAttribute("aria-label", [
        e.name || e.extension, e.extension, STATE_TEXT[e.shown] || e.shown,
        e.dnd && e.shown !== "dnd" ? t("do not disturb") : "", statusNote(e),
      ].filter(Boolean).join(", "));
      return li;
    }));
    document.getElementById("extensions-count").textContent = list.length;
    renderQueues(list);
    fillChoices(list);
    tick();
  }

  function renderQueues(list) {
    const queues = new Map(); // queue -> [extension]
    for (const e of list) for (const q of e.queues) {
      if (!queues.has(q.queue)) queues.set(q.queue, []);
      queues.get(q.queue).push({ e, q });
    }
    document.getElementById("queue-members").replaceChildren(...[...queues].map(([queue, members]) => {
      const li = document.createElement("li");
      li.className = "queue-line";
      li.dataset.queue = queue;
      li.textContent = t("Queue {queue}: {members}", {
        queue,
        members: members.map(({ e, q }) => {
          const name = e.name || e.extension;
          if (!q.paused) return t("{name} ({state})", { name, state: STATE_TEXT[e.shown] || e.shown });
          return q.reason ? t("{name} paused: {reason}", { name, reason: q.reason })
            : t("{name} paused", { name });
        }).join("; "),
      });
      return li;
    }));
  }

  // -- the form ------------------------------------------------------------------------

  const form = document.getElementById("presence-form");
  const select = form.elements.extension;
  const CHOSEN = "switchboard.presence.extension";

  function chosenExtension() {
    return select.value || localStorage.getItem(CHOSEN) || "";
  }

  function fillChoices(list) {
    const current = chosenExtension();
    const options = list.map((e) => new Option(`${e.extension} ${e.name}`.trim(), e.extension));
    const same = select.options.length === options.length &&
      options.every((o, i) => select.options[i].value === o.value && select.options[i].text === o.text);
    if (!same) select.replaceChildren(...options);
    if (list.some((e) => e.extension === current)) select.value = current;
  }

  function choose(extension) {
    select.value = extension;
    localStorage.setItem(CHOSEN, extension);
    const e = [...extensions.values()].find((x) => x.extension === extension);
    if (e) {
      form.elements.status.value = e.dnd ? "dnd" : (e.shown === "away" ? "away" : "available");
      form.elements.note.value = e.note || "";
      form.elements.until.value = e.until || "";
    }
    render();
  }

  async function send(body) {
    const status = document.getElementById("presence-status");
    status.textContent = "";
    board.report(status, await board.post("/api/presence", body));
  }

  // Who answers a queue: join, pause with a reason, resume, leave (kept by the
  // switchboard and restored after an Asterisk restart; the list above shows what the
  // PBX then reports).
  const queueForm = document.getElementById("queue-form");
  queueForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter?.value || "join";
    const extension = queueForm.elements.extension.value.trim() || select.value;
    const known = [...extensions.values()].find((e) => e.extension === extension);
    const queueStatus = document.getElementById("queue-status");
    const reply = await board.post("/api/queues/members", {
      action,
      queue: queueForm.elements.queue.value.trim(),
      interface: `PJSIP/${extension}`,
      member_name: known?.name || "",
      reason: action === "pause" ? queueForm.elements.reason.value.trim() : "",
      pbx: known?.pbx || "",
    });
    board.report(queueStatus, reply);
    if (reply.ok && !reply.data.confirmed) {
      queueStatus.textContent = t("Saved; the PBX gets it when it is back.");
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const extension = select.value;
    localStorage.setItem(CHOSEN, extension);
    send({
      extension,
      pbx: [...extensions.values()].find((e) => e.extension === extension)?.pbx || "",
      status: form.elements.status.value,
      note: form.elements.note.value.trim(),
      until: form.elements.until.value,
    });
  });
  select.addEventListener("change", () => choose(select.value));

  /** D: do not disturb on/off for the chosen extension (not while typing). */
  function toggleDnd() {
    const e = [...extensions.values()].find((x) => x.extension === select.value);
    if (!e) return;
    send({ extension: e.extension, pbx: e.pbx, status: e.dnd ? "available" : "dnd", note: "", until: "" });
  }

  document.getElementById("extensions").addEventListener("click", (event) => {
    const li = event.target.closest(".extension");
    if (li) choose(li.dataset.extension);
  });
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest && event.target.closest("input, textarea, select");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const li = event.target.closest && event.target.closest(".extension");
    if (li && event.key === "Enter") choose(li.dataset.extension);
    if (event.key === "d" || event.key === "D") {
      if (li) choose(li.dataset.extension);
      event.preventDefault();
      toggleDnd();
    }
  });

  function tick() {
    const now = Date.now() / 1000;
    for (const li of document.querySelectorAll(".extension")) {
      const timer = li.querySelector(".ext-timer");
      if (!li.dataset.since) { timer.textContent = ""; continue; }
      const seconds = Math.max(0, Math.floor(now - Number(li.dataset.since)));
      timer.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    }
  }
  setInterval(tick, 1000);
}
