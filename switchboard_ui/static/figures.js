// Today's service level on the board (issue 15), from the journal: answered within the
// site's threshold (15 s) over the counted calls, against the target, with the abandon
// rate, the callbacks and the missed callers not yet reached. Asked at start, once an
// ended call is journalled (at most every 5 s) and each minute (report_api.py).
"use strict";
{
  const board = window.board;
  const t = board.t;
  const panel = document.getElementById("figures");
  const level = document.getElementById("figure-level");
  const STANDING = { met: t("on target"), close: t("just under target"), missed: t("under target"), none: "" };

  const percent = (ratio) => (ratio === null ? "–" : `${Math.round(ratio * 100)}%`);
  function clock(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? `${h}:${String(m).padStart(2, "0")} h` : `${m}:${String(s % 60).padStart(2, "0")}`;
  }
  function set(name, text) { panel.querySelector(`[data-figure="${name}"]`).textContent = text; }

  let asked = 0;
  async function load() {
    asked = Date.now();
    const response = await fetch("/api/figures/today", { credentials: "same-origin" });
    if (!response.ok) return;
    const f = await response.json();
    level.dataset.standing = f.standing;
    level.textContent = t("Answered within {s} s: {level} (target {target})", {
      s: String(f.answer_within_s), level: percent(f.service_level), target: percent(f.target),
    }) + (STANDING[f.standing] ? ` · ${STANDING[f.standing]}` : "");
    set("answered", t("{answered} of {counted}", {
      answered: String(f.answered), counted: String(f.answered + f.abandoned + f.sent_on),
    }));
    set("abandoned", `${percent(f.abandon_rate)} (${f.abandoned})` +
      (f.short_abandons
        ? ` · ${t("{n} within {s} s", { n: String(f.short_abandons), s: String(f.short_abandon_s) })}`
        : ""));
    set("sent-on", String(f.sent_on));
    set("callbacks", t("{reached} of {requested} reached · median {p50}, 90% {p90}", {
      reached: String(f.callbacks_reached), requested: String(f.callbacks_requested),
      p50: clock(f.callback_p50_s), p90: clock(f.callback_p90_s),
    }));
    set("missed", f.open_items
      ? t("{n} · oldest {age}", { n: String(f.open_items), age: clock(f.oldest_s) }) : "0");
    set("overrun", t("{overrun} of {announced}", {
      overrun: String(f.overrun), announced: String(f.announced),
    }));
  }
  // One timer however many calls end at once: at most one question every 5 s.
  let pending = null;
  function soon() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; load(); }, Math.max(500, 5000 - (Date.now() - asked)));
  }
  board.onMessage("journal", soon); // an ended call is written: the figures moved
  board.onMessage("callbacks", soon);
  board.onMessage("worklist", soon);
  setInterval(load, 60000);
  load();
}
