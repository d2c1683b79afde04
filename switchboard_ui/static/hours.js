// Opening hours on the board: each schedule's state ("open until 17:30", "closed,
// opens Monday 8:30", with the override that rules it and who made it), and close now /
// open now until a time, or back to the schedule. The service decides at every call
// (FastAGI route hours); this only shows and asks. Plugs into board.js (window.board).
"use strict";
{
  const board = window.board;
  const t = board.t;
  const list = document.getElementById("hours-list");
  const form = document.getElementById("hours-form");
  const status = document.getElementById("hours-status");

  async function load() {
    const response = await fetch("/api/hours", { credentials: "same-origin" });
    if (!response.ok) return;
    const { hours } = await response.json();
    document.getElementById("hours-panel").hidden = hours.length === 0;
    list.replaceChildren(...hours.map((h) => {
      const li = document.createElement("li");
      li.className = h.open ? "hours-open" : "hours-closed";
      const by = h.override ? ` (${h.override.reason || t("override")}, ${h.override.by})` : "";
      li.textContent = `${h.name}: ${h.text}${by}`;
      return li;
    }));
    const select = form.elements.name;
    if (select.options.length !== hours.length) {
      select.replaceChildren(...hours.map((h) => new Option(h.name, h.name)));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter?.value || "close";
    const name = form.elements.name.value;
    const reply = action === "end"
      ? await board.post("/api/hours/override/end", { name })
      : await board.post("/api/hours/override", {
        name,
        open: action === "open",
        reason: form.elements.reason.value.trim(),
        until: form.elements.until.value,
      });
    board.report(status, reply);
    load();
  });

  load();
  setInterval(load, 30_000); // the state changes with the clock, not only with events
}
