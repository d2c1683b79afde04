// The missed-call worklist on the board (issue 15): every caller nobody answered, one
// item per number and queue, with their calls; who is calling them back; their outcome.
// Items resolve by themselves too (the caller called again and was answered, a call of
// 10 s or more with the number, a callback reached them). PostgreSQL holds the claims
// (switchboard_ui/worklist_api.py); a "worklist" message says the list changed.
"use strict";
{
  const board = window.board;
  const t = board.t;
  const list = document.getElementById("worklist");
  const count = document.getElementById("worklist-count");
  const status = document.getElementById("worklist-status");
  const RENEW_MS = 120000; // a claim lasts 10 minutes from its last renewal
  const OUTCOMES = {
    helped: t("reached and helped"),
    "passed on": t("reached, passed to a colleague"),
    "no answer": t("no answer"),
    voicemail: t("voicemail left"),
    "wrong number": t("wrong number"),
    seen: t("seen"),
  };
  const HOW = {
    "answered when they called again": t("answered when they called again"),
    "called back": t("called back"),
    "a callback reached them": t("a callback reached them"),
    ...OUTCOMES,
  };
  const KINDS = {
    abandoned: t("hung up"),
    missed: t("not answered"),
    "callback not reached": t("callback not reached"),
  };
  const STEPS = {
    operator: t("operator"), backoffice: t("back office"), voicemail: t("voicemail"),
    urgent: t("on-call line"), goodbye: t("goodbye"),
  };
  let mine = []; // ids of open items this receptionist holds, renewed while she works
  let shortS = 5; // "hung up within 5 s": the site's [service_level] short_abandon_s
  // A claim is renewed while its holder works at the board (a key or a click in the last
  // 10 minutes): one who walked away lets it lapse for a colleague.
  let active = Date.now();
  for (const kind of ["keydown", "pointerdown"]) {
    document.addEventListener(kind, () => { active = Date.now(); }, { capture: true });
  }

  function clock(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return h ? `${h}:${String(m).padStart(2, "0")} h` : `${m}:${String(seconds % 60).padStart(2, "0")}`;
  }

  // Today's moments as a time of day, older ones with their date (the site's days).
  const day = (when) => formatWhen(when).split(" ").slice(0, -1).join(" ");
  function when(iso) {
    return day(iso) === day(Date.now() / 1000) ? formatClock(iso) : formatWhen(iso);
  }

  function problem(reply) {
    if (reply.ok) return "";
    return reply.data.error || Object.values(reply.data.errors || {}).join("; ");
  }

  function attemptText(a) {
    if (a.kind === "callback not reached") {
      return `${when(a.at)} ${t("callback not reached after {n} attempts", { n: String(a.callback_attempts) })}`;
    }
    const words = [`${when(a.at)} ${KINDS[a.kind] || a.kind}`];
    words.push(t("waited {time}", { time: clock(a.waited_s) }));
    if (a.place) words.push(t("place {place}", { place: String(a.place) }));
    if (STEPS[a.step]) words.push(STEPS[a.step]);
    if (a.short) words.push(t("hung up within {s} s", { s: String(shortS) }));
    return words.join(", ");
  }

  function button(text, act, body) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.dataset.act = act;
    element.addEventListener("click", async () => {
      const reply = await board.post(`/api/worklist/${act}`, body());
      status.textContent = problem(reply);
      load();
    });
    return element;
  }

  function outcomeForm(item) {
    const form = document.createElement("form");
    form.className = "worklist-outcome";
    const choice = document.createElement("select");
    choice.name = "outcome";
    choice.setAttribute("aria-label", t("Outcome"));
    // (On an item one's own call resolved, "no answer" or "voicemail" opens it again: a
    // voicemail greeting talks 10 s too.)
    const offered = item.withheld ? ["seen"] : Object.keys(OUTCOMES).filter((o) => o !== "seen");
    choice.append(...offered.map((o) => new Option(OUTCOMES[o], o)));
    const note = document.createElement("input");
    note.name = "note";
    note.maxLength = 2000;
    note.autocomplete = "off";
    note.setAttribute("aria-label", t("Note"));
    note.placeholder = t("Note");
    const save = document.createElement("button");
    save.type = "submit";
    save.textContent = t("Record outcome");
    form.append(choice, " ", note, " ", save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (item.withheld && !item.mine) await board.post("/api/worklist/claim", { id: item.id });
      const reply = await board.post("/api/worklist/outcome", {
        id: item.id, outcome: choice.value, note: note.value.trim(),
      });
      status.textContent = problem(reply);
      load();
    });
    return form;
  }

  function render(item) {
    const li = document.createElement("li");
    li.className = `worklist-item worklist-${item.state}`;
    li.classList.toggle("escalated", item.escalated);
    li.dataset.id = String(item.id);
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = item.withheld ? t("Withheld number")
      : item.name ? `${item.name} (${item.number})` : item.number;
    li.append(who);
    if (item.escalated) {
      const mark = document.createElement("span");
      mark.className = "escalated-mark";
      mark.textContent = t("escalated");
      li.append(" ", mark);
    }
    const summary = document.createElement("span");
    summary.className = "summary";
    const calls = item.attempts === 1 ? t("1 call") : t("{n} calls", { n: String(item.attempts) });
    const words = [calls, t("waiting {time}", { time: clock(item.waited_s) })];
    if (item.queue) words.push(item.queue);
    summary.textContent = words.join(" · ");
    li.append(summary);
    const history = document.createElement("ol");
    history.className = "attempts";
    history.append(...item.history.map((a) => {
      const entry = document.createElement("li");
      entry.textContent = attemptText(a);
      entry.classList.toggle("short", a.short);
      return entry;
    }));
    li.append(history);
    const holder = document.createElement("span");
    holder.className = "holder";
    if (item.state === "open" && item.claimed_by && !item.mine) {
      holder.textContent = t("{name} is calling back", { name: item.holder_name || item.claimed_by });
    } else if (item.state === "open" && item.mine) {
      holder.textContent = t("You are calling back");
    }
    if (item.note) holder.textContent += `${holder.textContent ? " · " : ""}${item.note}`;
    li.append(holder);
    if (item.state !== "open") {
      const how = document.createElement("span");
      how.className = "resolved";
      const by = item.resolved_by ? ` (${item.resolved_by})` : "";
      how.textContent = t("resolved {when}: {how}", {
        when: when(item.resolved_at), how: (HOW[item.resolved_how] || item.resolved_how) + by,
      });
      li.append(how);
      // The holder's own call-back resolved it: they still say how it went.
      if (item.mine && item.own_call && !item.outcome) li.append(outcomeForm(item));
      return li;
    }
    const actions = document.createElement("span");
    actions.className = "worklist-actions";
    if (!item.claimed_by || item.mine) {
      if (!item.withheld) actions.append(button(t("Call back"), "call", () => ({ id: item.id })));
      if (!item.mine) actions.append(" ", button(t("Claim"), "claim", () => ({ id: item.id })));
      else actions.append(" ", button(t("Release"), "release", () => ({ id: item.id })));
    }
    li.append(actions);
    if (item.mine || (item.withheld && !item.claimed_by)) li.append(outcomeForm(item));
    return li;
  }

  let loading = null;
  async function load() {
    const response = await fetch("/api/worklist", { credentials: "same-origin" });
    if (!response.ok) return;
    const { items, short_abandon_s: configured } = await response.json();
    shortS = configured;
    const open = items.filter((i) => i.state === "open");
    count.textContent = String(open.filter((i) => !i.withheld).length);
    mine = open.filter((i) => i.mine).map((i) => i.id);
    // Keep what the receptionist is typing: an item whose form has focus is left alone.
    const focused = document.activeElement;
    const typing = focused && focused.matches("input, select, textarea") && list.contains(focused);
    if (typing) return;
    list.replaceChildren(...items.map(render));
  }
  function soon() {
    if (loading) return;
    loading = setTimeout(() => { loading = null; load(); }, 1000);
  }

  board.onMessage("worklist", soon);
  board.onMessage("journal", soon); // an ended call written: a missed one adds
  board.onMessage("call", (message) => { if (message.call.answered_at) soon(); }); // resolves
  board.onMessage("snapshot", load);
  setInterval(load, 15000); // the other instance's changes, and the ages moving on
  setInterval(() => {
    if (Date.now() - active > 10 * 60000) return;
    for (const id of mine) board.post("/api/worklist/claim", { id });
  }, RENEW_MS);
  load();
}
