// Contacts: find one, add one, edit one, verify a number. #<id> in the address opens it.
// Texts go through t() (static/i18n.js): the page's language, English as the key.
"use strict";

const VERIFICATION_VALID_DAYS = 365; // the caller card trusts a verification this long
const SEARCH_DELAY_MS = 250;

const form = document.getElementById("contact-form");
const numbersList = document.getElementById("numbers");
const csrfToken = document.querySelector("meta[name=csrf-token]").content;
let current = null; // the contact as last loaded or saved; null for a new one

// -- talking to the server ----------------------------------------------------------------
async function api(method, path, body) {
  const options = { method, headers: {} };
  if (method !== "GET") options.headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    return { status: 0, data: { error: t("the switchboard cannot be reached; try again") } };
  }
  if (response.status === 401) {
    location.href = "/login";
  }
  let data = {};
  try { data = await response.json(); } catch (error) { data = { error: response.statusText }; }
  return { status: response.status, data };
}

// -- search -----------------------------------------------------------------------------
const searchInput = document.getElementById("search");
const results = document.getElementById("results");
let searchTimer = null;
let searchSeq = 0;

async function search() {
  const query = searchInput.value.trim();
  const seq = ++searchSeq;
  const { status, data } = await api("GET", `/api/contacts?q=${encodeURIComponent(query)}`);
  if (seq !== searchSeq) return; // a later search already answered
  const searchStatus = document.getElementById("search-status");
  if (status !== 200) {
    searchStatus.textContent = t("Could not search: {error}", { error: data.error });
    return;
  }
  results.replaceChildren(...data.contacts.map(resultItem));
  searchStatus.textContent =
    data.contacts.length === 0 ?
      (query ? t("No contact matches “{query}”.", { query }) : t("No contacts yet.")) :
    query ? t("{count} found.", { count: data.contacts.length }) : t("Changed last:");
}

function resultItem(contact) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.href = `#${contact.id}`;
  link.className = "result";
  const name = document.createElement("span");
  name.className = "result-name";
  name.textContent = contact.company ? `${contact.name} (${contact.company})` : contact.name;
  link.append(name);
  if (contact.vip) {
    const vip = document.createElement("span");
    vip.className = "vip";
    vip.textContent = "VIP";
    link.append(" ", vip);
  }
  const numbers = document.createElement("span");
  numbers.className = "result-numbers";
  numbers.textContent = contact.numbers.join(", ") || t("no number");
  link.append(numbers);
  if (current && current.id === contact.id) link.setAttribute("aria-current", "true");
  item.append(link);
  return item;
}

searchInput.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, SEARCH_DELAY_MS);
});
document.getElementById("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearTimeout(searchTimer);
  await search();
  const first = results.querySelector("a");
  if (first) first.focus();
});
// Arrow keys walk from the search box through the results and back.
document.querySelector(".contact-search").addEventListener("keydown", (event) => {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const links = [...results.querySelectorAll("a")];
  const at = event.target === searchInput ? -1 : links.indexOf(event.target);
  if (at === -1 && event.target !== searchInput) return;
  event.preventDefault();
  const next = at + (event.key === "ArrowDown" ? 1 : -1);
  if (next < 0) searchInput.focus();
  else if (next < links.length) links[next].focus();
});

// -- the form -----------------------------------------------------------------------------
function verifiedText(number) {
  const days = number.verified_days_ago;
  if (days === null || days === undefined) return t("never verified");
  if (days > VERIFICATION_VALID_DAYS) return t("verified {days} days ago: verify again", { days });
  return days === 0 ? t("verified today") : days === 1 ? t("verified 1 day ago") :
    t("verified {days} days ago", { days });
}

function addRow(number, label) {
  const template = document.getElementById("number-template");
  const row = template.content.firstElementChild.cloneNode(true);
  const input = row.querySelector(".number-input");
  input.value = number ? number.display : "";
  row.querySelector(".label-input").value = label || "";
  if (number) {
    row.dataset.e164 = number.e164;
    row.dataset.display = number.display;
  }
  setVerified(row, number);
  input.addEventListener("input", () => setVerified(row, rowNumber(row)));
  row.querySelector(".verify").addEventListener("click", () => verify(row));
  row.querySelector(".remove").addEventListener("click", () => removeRow(row));
  numbersList.append(row);
  renumber();
  return row;
}

// The stored number this row still shows, or null once it was changed (save it first).
function rowNumber(row) {
  if (!row.dataset.e164 || !current) return null;
  if (row.querySelector(".number-input").value.trim() !== row.dataset.display) return null;
  return current.numbers.find((n) => n.e164 === row.dataset.e164) || null;
}

function setVerified(row, number) {
  const state = row.querySelector(".verified-state");
  const button = row.querySelector(".verify");
  if (!number) {
    state.textContent = row.dataset.e164 ? t("changed: save to keep it") : "";
    state.className = "verified-state";
    button.hidden = true;
    return;
  }
  state.textContent = verifiedText(number);
  const stale = number.verified_days_ago === null ||
    number.verified_days_ago > VERIFICATION_VALID_DAYS;
  state.className = "verified-state " + (stale ? "unverified" : "verified");
  button.hidden = false;
}

function removeRow(row) {
  const rows = [...numbersList.children];
  const at = rows.indexOf(row);
  row.remove();
  renumber();
  const left = [...numbersList.children];
  const focus = left[Math.min(at, left.length - 1)];
  (focus ? focus.querySelector(".number-input") : document.getElementById("add-number")).focus();
}

function renumber() {
  [...numbersList.children].forEach((row, i) => {
    const n = i + 1;
    const input = row.querySelector(".number-input");
    row.querySelector(".row-no").textContent = String(n);
    input.id = `f-number-${i}`;
    row.querySelector(".number-error").id = `e-number-${i}`;
    input.setAttribute("aria-describedby", `e-number-${i}`);
    input.setAttribute("aria-label", t("Number {n}", { n }));
    row.querySelector(".label-input").setAttribute("aria-label", t("Label of number {n}", { n }));
    row.querySelector(".verify").setAttribute(
      "aria-label", t("Verify number {n}: I checked their address", { n }));
    row.querySelector(".remove").setAttribute("aria-label", t("Remove number {n}", { n }));
  });
}

function fill(contact) {
  current = contact;
  clearErrors();
  const value = (field) => contact ? contact[field] || "" : "";
  document.getElementById("f-name").value = value("name");
  document.getElementById("f-company").value = value("company");
  document.getElementById("f-email").value = value("email");
  document.getElementById("f-address").value = value("address");
  document.getElementById("f-notes").value = value("notes");
  document.getElementById("f-vip").checked = contact ? contact.vip : false;
  document.getElementById("f-language").value = contact ? contact.language : "nl";
  numbersList.replaceChildren();
  for (const number of contact ? contact.numbers : []) addRow(number, number.label);
  if (numbersList.children.length === 0) addRow(null, "");
  document.getElementById("form-title").textContent =
    contact ? t("Edit contact: {name}", { name: contact.name }) : t("New contact");
  document.getElementById("save").textContent =
    contact ? t("Save changes") : t("Add contact");
  const source = document.getElementById("form-source");
  source.hidden = !(contact && contact.source);
  source.textContent = contact && contact.source ? t(
    "Imported from “{source}”: importing that list again overwrites what it carries.",
    { source: contact.source }) : "";
  for (const link of results.querySelectorAll("a")) {
    const open = contact && link.getAttribute("href") === `#${contact.id}`;
    if (open) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
}

function collect() {
  return {
    name: document.getElementById("f-name").value,
    company: document.getElementById("f-company").value,
    numbers: [...numbersList.children].map((row) => ({
      number: row.querySelector(".number-input").value,
      label: row.querySelector(".label-input").value,
    })),
    email: document.getElementById("f-email").value,
    address: document.getElementById("f-address").value,
    notes: document.getElementById("f-notes").value,
    vip: document.getElementById("f-vip").checked,
    language: document.getElementById("f-language").value,
  };
}

function clearErrors() {
  document.getElementById("form-alert").textContent = "";
  document.getElementById("form-status").textContent = "";
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

// Put each message of a 422 next to its input; the first wrong input gets the focus.
function showErrors(errors) {
  const rows = [...numbersList.children];
  const wrong = [];
  const unplaced = [];
  for (const [field, message] of Object.entries(errors)) {
    const match = /^numbers\.(\d+)(\.label)?$/.exec(field);
    let target = null, input = null;
    if (match && rows[Number(match[1])]) {
      const row = rows[Number(match[1])];
      target = row.querySelector(".number-error");
      input = row.querySelector(match[2] ? ".label-input" : ".number-input");
    } else if (field === "numbers") {
      target = document.getElementById("e-numbers");
      input = rows.length ? rows[0].querySelector(".number-input") : null;
    } else {
      target = document.getElementById(`e-${field}`);
      input = document.getElementById(`f-${field}`);
    }
    if (!target) { unplaced.push(message); continue; }
    target.textContent = target.textContent ? `${target.textContent} ${message}` : message;
    if (input) { input.setAttribute("aria-invalid", "true"); wrong.push(input); }
  }
  const count = Object.keys(errors).length;
  document.getElementById("form-alert").textContent =
    (count === 1 ? t("Not saved: 1 thing needs correcting.") :
      t("Not saved: {count} things need correcting.", { count })) +
    (unplaced.length ? ` ${unplaced.join(" ")}` : "");
  const first = [...form.querySelectorAll("[aria-invalid]")].find((el) => wrong.includes(el));
  if (first) first.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const status = document.getElementById("form-status");
  status.textContent = t("Saving…");
  const creating = current === null;
  const { status: code, data } = creating ?
    await api("POST", "/api/contacts", collect()) :
    await api("PUT", `/api/contacts/${current.id}`, collect());
  status.textContent = "";
  if (code === 200 || code === 201) {
    fill(data);
    if (creating) history.replaceState(null, "", `#${data.id}`);
    status.textContent = creating ? t("Contact added.") : t("Changes saved.");
    search();
  } else if (code === 422) {
    showErrors(data.errors);
  } else if (code === 403) {
    document.getElementById("form-alert").textContent =
      t("Not saved: your session changed. Reload the page and try again.");
  } else if (code === 404) {
    document.getElementById("form-alert").textContent =
      t("Not saved: this contact no longer exists.");
  } else if (code !== 401) {
    document.getElementById("form-alert").textContent =
      t("Not saved: {error}", { error: data.error });
  }
});

async function verify(row) {
  const number = rowNumber(row);
  if (!number) return;
  const { status, data } = await api(
    "POST", `/api/contacts/${current.id}/numbers/${encodeURIComponent(number.e164)}/verify`);
  if (status !== 200) {
    row.querySelector(".number-error").textContent =
      t("Not verified: {error}", { error: data.error });
    return;
  }
  // Keep whatever else was typed but not saved yet; only this number's state changes.
  const fresh = data.numbers.find((n) => n.e164 === number.e164);
  current.numbers = current.numbers.map((n) => (n.e164 === number.e164 ? fresh : n));
  setVerified(row, fresh);
  document.getElementById("form-status").textContent =
    t("{number} verified: the caller card trusts it now.", { number: fresh.display });
}

document.getElementById("add-number").addEventListener("click", () => {
  addRow(null, "").querySelector(".number-input").focus();
});

document.getElementById("new-contact").addEventListener("click", () => {
  if (location.hash) location.hash = "";
  else openFromAddress();
  document.getElementById("f-name").focus();
});

async function openFromAddress() {
  const id = location.hash.slice(1);
  if (!/^\d+$/.test(id)) {
    fill(null);
    return;
  }
  const { status, data } = await api("GET", `/api/contacts/${id}`);
  if (status !== 200) {
    fill(null);
    document.getElementById("form-alert").textContent =
      status === 404 ? t("There is no contact {id}; you can add a new one.", { id }) :
      t("Could not open contact {id}: {error}", { id, error: data.error });
    return;
  }
  fill(data);
  document.getElementById("form-title").focus();
}

window.addEventListener("hashchange", openFromAddress);
openFromAddress();
search();
