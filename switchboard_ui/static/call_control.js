// Call control on the board: answer, transfer (blind or after asking), park, take back,
// hang up. Every action goes to the server (/api/calls/*), which sends it to the PBX;
// what the PBX then does reaches every board as "claim" and "action" messages, so all
// receptionists see who is acting on a call and how it ended.
"use strict";
{
  const board = window.board;
  const claims = new Map(); // call_id -> claim (who acts on the call, and how)
  const results = new Map(); // call_id -> {text, failed, at}: the last outcome on a call
  const RESULT_SHOWN_MS = 20000;
  const LOG_LENGTH = 6;
  let me = { extension: "", role: "receptionist", name: "" };
  let transferMode = "blind";
  // A click on Hang up only arms it: a second click within this time hangs up, so a
  // click meant for the caller card never cuts a caller off.
  const HANGUP_ARMED_MS = 4000;
  let armed = { callId: "", until: 0 };

  // Who is acting on a call: the same texts as the server's refusals.
  const CLAIM_TEXT = {
    answer: (name) => t("{name} is answering this call.", { name }),
    retrieve: (name) => t("{name} is taking this call back.", { name }),
    blind: (name) => t("{name} is transferring this call.", { name }),
    attended: (name) => t("{name} is transferring this call after asking first.", { name }),
    park: (name) => t("{name} is parking this call.", { name }),
    hangup: (name) => t("{name} is hanging up this call.", { name }),
  };
  // How an action went (ami_bridge/call_control.py outcome codes).
  const RESULT_TEXT = {
    answer_done: (v) => t("{name} answered on {extension}.", v),
    retrieve_done: (v) => t("{name} took the call back on {extension}.", v),
    blind_done: (v) => t("{name} transferred the call to {target}.", v),
    attended_done: (v) => t("{name} transferred the call to {target} after asking.", v),
    consulting: (v) => t("{name} is asking {target}; the caller is on hold.", v),
    cancel_done: (v) => t("{name} is back with the caller; not transferred.", v),
    target_no_answer: (v) => t("{target} did not answer; the caller is back with {name}.", v),
    park_done: (v) => t("{name} parked the call in {space}.", v),
    hangup_done: (v) => t("{name} hung up the call.", v),
    ended: () => t("The caller hung up."),
    not_taken: (v) => t("Phone {extension} did not take the call ({status}); the caller waits again.", v),
    refused: (v) => t("The PBX refused: {message}", v),
    timeout: (v) => t("Not confirmed by the PBX within {seconds} s.", v),
    disconnected: () => t("The connection to the PBX was lost; check the call."),
  };

  const panel = document.getElementById("call-control");
  const form = panel.querySelector(".cc-transfer");
  const targetInput = form.querySelector("input[name=target]");

  // -- state from the server ------------------------------------------------------------

  board.onMessage("snapshot", (message) => {
    claims.clear();
    for (const claim of message.claims || []) claims.set(claim.call_id, claim);
  });
  board.onMessage("resync", (message) => {
    for (const id of claims.keys()) if (id.startsWith(`${message.pbx}:`)) claims.delete(id);
  });
  board.onMessage("claim", (message) => claims.set(message.call_id, message));
  board.onMessage("action", (message) => {
    if (message.result === "progress") claims.set(message.call_id, message);
    else claims.delete(message.call_id);
    const describe = RESULT_TEXT[message.code];
    const text = describe ? describe(message.values) : message.code;
    showResult(message.call_id, text, message.result === "failed");
  });

  function showResult(callId, text, failed) {
    results.set(callId, { text, failed, at: Date.now() });
    const log = panel.querySelector(".cc-log");
    const item = document.createElement("li");
    item.textContent = text;
    item.classList.toggle("failed", failed);
    log.prepend(item);
    while (log.children.length > LOG_LENGTH) log.lastElementChild.remove();
  }

  // -- what each call offers --------------------------------------------------------------

  const isWaiting = (call) => call.state === "ringing" || call.state === "queued";
  function parties(call) {
    return (call.talking_with || "").split(", ").map((p) => p.split("@")[0]);
  }
  function mine(call) {
    return Boolean(me.extension) && parties(call).includes(me.extension);
  }
  function myConsultation(call) {
    const claim = claims.get(call.call_id);
    return claim && claim.username === me.username && claim.action === "attended"
      && claim.consulting ? claim : null;
  }

  /** [action, label, key] for the buttons a call offers this user now. */
  function offers(call) {
    if (claims.has(call.call_id)) {
      return myConsultation(call)
        ? [["complete", t("Complete transfer"), "C"], ["cancel", t("Cancel transfer"), "Esc"]]
        : [];
    }
    const waiting = isWaiting(call);
    const own = mine(call);
    const admin = me.role === "admin";
    const list = [];
    if (waiting && me.extension) list.push(["answer", t("Answer"), "A"]);
    if (call.state === "parked" && me.extension) list.push(["retrieve", t("Take back"), "R"]);
    if (waiting || call.state === "parked" || own || (admin && call.state === "talking")) {
      list.push(["blind", t("Transfer"), "B"]);
    }
    if (own) list.push(["attended", t("Ask first"), "T"]);
    if (own || (admin && call.state === "talking")) list.push(["park", t("Park"), "P"]);
    if (waiting || call.state === "parked" || own || admin) list.push(["hangup", t("Hang up"), "H"]);
    return list;
  }

  board.onRender(() => {
    for (const li of document.querySelectorAll(".call")) {
      const call = board.calls.get(li.dataset.callId);
      if (!call) continue;
      li.draggable = true;
      const actions = document.createElement("span");
      actions.className = "call-actions";
      for (const [act, label, key] of offers(call)) {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.act = act;
        button.textContent = label;
        if (act === "hangup" && armed.callId === call.call_id && Date.now() < armed.until) {
          button.textContent = t("Click again to hang up");
          button.classList.add("armed");
        }
        button.title = t("Key {key}", { key });
        actions.append(button);
      }
      const status = document.createElement("span");
      status.className = "call-status";
      status.setAttribute("role", "status");
      const claim = claims.get(call.call_id);
      const result = results.get(call.call_id);
      if (claim && claim.consulting) {
        status.textContent = RESULT_TEXT.consulting({ name: claim.by, target: claim.target });
      } else if (claim) {
        status.textContent = (CLAIM_TEXT[claim.action] || String)(claim.by);
        status.classList.add("claimed");
      } else if (result && Date.now() - result.at < RESULT_SHOWN_MS) {
        status.textContent = result.text;
        status.classList.toggle("failed", result.failed);
      }
      if (call.state === "parked" && call.parked_space && !status.textContent) {
        status.textContent = t("Parked in {space}", { space: call.parked_space });
      }
      li.append(actions, status);
    }
    const selected = board.calls.get(board.selectedCallId());
    panel.querySelector(".cc-selected").textContent = selected
      ? t("Selected: {caller}", { caller: selected.caller_name || selected.caller_number || t("Withheld number") })
      : t("Select a call: click it, or drag it onto a colleague to transfer it.");
  });

  // -- sending actions ------------------------------------------------------------------

  async function act(action, callId, target = "") {
    if (!callId) { say(t("Select a call first."), true); return; }
    const urls = {
      answer: "/api/calls/answer",
      retrieve: "/api/calls/retrieve",
      park: "/api/calls/park",
      hangup: "/api/calls/hangup",
      complete: "/api/calls/transfer/complete",
      cancel: "/api/calls/transfer/cancel",
    };
    const body = { call_id: callId };
    let url = urls[action];
    if (action === "blind" || action === "attended") {
      url = "/api/calls/transfer";
      Object.assign(body, { target, mode: action });
    }
    const reply = await board.post(url, body);
    if (reply.ok) { say(""); return; }
    say(reply.data.error || `HTTP ${reply.status}`, true);
    results.set(callId, { text: reply.data.error, failed: true, at: Date.now() });
    board.render();
  }

  function say(text, failed = false) {
    const message = panel.querySelector(".cc-message");
    message.textContent = text;
    message.classList.toggle("failed", failed);
  }

  /** Transfer the selected call: focus the target field (the grid's drop works too). */
  function askTarget(mode) {
    transferMode = mode;
    form.dataset.mode = mode;
    targetInput.focus();
    targetInput.select();
  }

  function transfer(mode) {
    const target = targetInput.value.trim();
    if (!target) { say(t("Type the extension or number to transfer to."), true); return; }
    act(mode, board.selectedCallId(), target);
    targetInput.value = "";
    targetInput.blur();
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    transfer(event.submitter?.value || transferMode);
  });
  targetInput.addEventListener("keydown", (event) => {
    // Enter transfers the way B or T asked for (an implicit submit would always be blind).
    if (event.key === "Enter") { event.preventDefault(); transfer(transferMode); }
    if (event.key === "Escape") { targetInput.value = ""; targetInput.blur(); }
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest(".call-actions button");
    if (!button) return;
    const callId = button.closest(".call").dataset.callId;
    // board.js selects the call on the same click; transfers then ask for the target.
    if (button.dataset.act === "blind" || button.dataset.act === "attended") {
      setTimeout(() => askTarget(button.dataset.act));
      return;
    }
    if (button.dataset.act === "hangup" && !(armed.callId === callId && Date.now() < armed.until)) {
      armed = { callId, until: Date.now() + HANGUP_ARMED_MS };
      board.render();
      setTimeout(() => board.render(), HANGUP_ARMED_MS);
      return;
    }
    armed = { callId: "", until: 0 };
    act(button.dataset.act, callId);
  });

  // -- keyboard -------------------------------------------------------------------------

  function callForKeys(action) {
    const selected = board.calls.get(board.selectedCallId());
    if (action !== "answer" || (selected && isWaiting(selected))) return selected;
    // A without a waiting call selected: the caller waiting longest.
    return [...board.calls.values()].filter(isWaiting)
      .sort((a, b) => a.started_at - b.started_at)[0];
  }

  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest && event.target.closest("input, textarea, select");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const keys = { a: "answer", b: "blind", t: "attended", p: "park", r: "retrieve",
      h: "hangup", c: "complete", escape: "cancel" };
    const action = keys[event.key.toLowerCase()];
    if (!action) return;
    const call = callForKeys(action);
    if (action === "cancel" && !(call && myConsultation(call))) return;
    event.preventDefault();
    if (action === "blind" || action === "attended") { askTarget(action); return; }
    act(action, call?.call_id);
  });

  // -- drag a call onto a colleague -----------------------------------------------------

  const CALL_TYPE = "application/x-switchboard-call";
  document.addEventListener("dragstart", (event) => {
    const li = event.target.closest && event.target.closest(".call");
    if (!li) return;
    event.dataTransfer.setData(CALL_TYPE, li.dataset.callId);
    event.dataTransfer.effectAllowed = "move";
  });
  const dropTarget = (event) =>
    event.target.closest && event.target.closest(".extension[data-extension]");
  function unmark() {
    for (const li of document.querySelectorAll(".drop-target")) li.classList.remove("drop-target");
  }
  document.addEventListener("dragover", (event) => {
    const extension = dropTarget(event);
    if (!extension || !event.dataTransfer.types.includes(CALL_TYPE)) return;
    event.preventDefault();
    unmark();
    extension.classList.add("drop-target");
  });
  document.addEventListener("dragend", unmark);
  document.addEventListener("drop", (event) => {
    const extension = dropTarget(event);
    const callId = event.dataTransfer.getData(CALL_TYPE);
    unmark();
    if (!extension || !callId) return;
    event.preventDefault();
    // Shift while dropping: ask the colleague first.
    act(event.shiftKey ? "attended" : "blind", callId, extension.dataset.extension);
  });

  // -- who am I ---------------------------------------------------------------------------

  fetch("/api/calls/me").then((r) => (r.ok ? r.json() : null)).then((data) => {
    if (!data) return;
    me = data;
    panel.querySelector(".cc-phone").textContent = me.extension
      ? t("Your phone: {extension}", { extension: me.extension })
      : t("You have no phone on the board: ask an admin to give you an extension.");
    board.render();
  });
}
