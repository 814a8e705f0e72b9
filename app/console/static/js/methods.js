// A contact's phones and emails: the API's `phones` [{number, type, primary, dnc}] and
// `emails` [{address, type, primary}] lists, shown in full and edited as rows.
//
// The view lists every number with its own Do-Not-Call state from the API (`dnc` true:
// "Do not call"; null: the list could not be read, shown as "do not call" too, never as
// callable) and its national format from POST /v1/contacts/normalize (one call for all
// of them; without it the E.164 number stays). The editor sends a whole list, and only
// when it differs from the contact as loaded; the form never sends `phone` / `email`
// beside them, so saving other fields cannot touch a number or an address. Every value
// is checked by the API alone: a bad row comes back as a 400 naming `phones.N.number`,
// and that row is marked.
import { api } from "./api.js";
import { h, clear, select, debounce } from "./dom.js";

// The API's types (app/contact_methods.py); it refuses any other.
export const PHONES = { plural: "phones", key: "number", id: "phone", noun: "number", types: ["mobile", "work", "home", "other"] };
export const EMAILS = { plural: "emails", key: "address", id: "email", noun: "email", types: ["work", "home", "other"] };
export const KINDS = [PHONES, EMAILS];

function dncCell(dnc) {
  if (dnc === true) return h("span", { class: "badge dnc" }, "Do not call");
  if (dnc === false) return h("span", { class: "muted" }, "not on DNC list");
  return h("span", { class: "badge unknown", title: "The DNC list could not be read" }, "DNC unknown: do not call");
}

export function methodsView(kind, entries) {
  if (!entries?.length) return h("p", { class: "muted", id: kind.plural }, "None.");
  const phones = kind === PHONES;
  return h("table", { class: "methods", id: kind.plural }, h("tbody", null, entries.map((entry) => {
    const dataset = { value: entry[kind.key] };
    if (phones) dataset.dnc = String(entry.dnc ?? null);
    return h("tr", { class: phones && entry.dnc !== false ? "listed" : null, dataset },
      h("td", { class: "value", dir: phones ? null : "auto" }, phones ? h("code", { class: "e164" }, entry.number) : entry.address),
      phones ? h("td", { class: "national" }) : null,
      h("td", { class: "type" }, entry.type),
      h("td", { class: "primary" }, entry.primary ? h("span", { class: "badge ok" }, "primary") : null),
      phones ? h("td", { class: "dnc" }, dncCell(entry.dnc)) : null);
  })));
}

// Fills the national-format cells of a phones table; a failure leaves the E.164 numbers.
export async function addNationalFormats(table, signal) {
  const rows = Array.from(table.querySelectorAll("tr"));
  if (!rows.length) return;
  try {
    const result = await api("POST", "/v1/contacts/normalize", {
      body: { phones: rows.map((row) => row.dataset.value) }, signal,
    });
    for (const [index, info] of result.data.entries()) {
      const cell = rows[index]?.querySelector(".national");
      if (cell && info.isValid && info.nationalFormat) cell.textContent = info.nationalFormat;
    }
  } catch {
    // Only a nicety: the E.164 number beside it says the same.
  }
}

export function phoneInfoView(info) {
  if (!info) return [];
  if (!info.isValid) {
    const why = (info.validationErrors || []).join("; ") || "not a valid number";
    return [h("span", { class: "badge bad" }, "invalid"), ` ${why}`];
  }
  return [
    h("span", { class: "badge ok" }, "valid"), " ",
    h("code", { class: "e164" }, info.normalized),
    ` · ${(info.numberType || "unknown type").toLowerCase().replace(/_/g, " ")}`,
    ` · ${info.countryCode || info.regionUsed || "?"}`,
    info.areaCode ? ` · area ${info.areaCode}` : "",
    info.nationalFormat ? ` · ${info.nationalFormat}` : "",
  ];
}

// What the API would compare: value, type and primary of each entry, in order.
function shape(kind, entries) {
  return (entries || []).map((e) => [e[kind.key], e.type || "other", Boolean(e.primary)]);
}

// The rows of one kind. `aborts` collects the live normalizations so the page can stop them.
export function methodsEditor(kind, entries, aborts) {
  const rows = h("div", { class: "method-rows", id: `${kind.id}-rows` });
  let sent = [];

  function live(input, info) {
    let controller = null;
    const run = debounce(async () => {
      controller?.abort();
      const text = input.value.trim();
      if (!text) return clear(info);
      const mine = new AbortController();
      controller = mine;
      aborts.add(mine);
      try {
        const result = await api("POST", "/v1/contacts/normalize", { body: { phone: text }, signal: mine.signal });
        clear(info).append(...phoneInfoView(result.data));
      } catch (err) {
        if (err.name !== "AbortError") clear(info).append(err.message);
      } finally {
        aborts.delete(mine);
      }
    }, 120);
    input.addEventListener("input", run);
    if (input.value) run();
  }

  function row(entry) {
    const label = kind === PHONES ? "Phone number" : "Email address";
    const value = h("input", {
      class: "method-value", value: entry?.[kind.key] ?? "", autocomplete: "off", spellcheck: "false",
      type: kind === PHONES ? "tel" : "text", inputmode: kind === PHONES ? "tel" : "email", dir: "auto", "aria-label": label,
    });
    const primary = h("input", { type: "radio", name: `${kind.id}-primary`, class: "method-primary", checked: Boolean(entry?.primary) });
    const item = h("div", { class: "method-row" },
      h("div", { class: "inline" },
        value,
        select("type", kind.types.map((t) => [t, t]), entry?.type || "other", { class: "method-type", "aria-label": `${label} type` }),
        h("label", { class: "primary-choice" }, primary, " primary"),
        h("button", { type: "button", class: "small method-remove", "aria-label": `Remove ${kind.noun}`, onclick: () => {
          item.remove();
          settlePrimary();
        } }, "Remove")));
    if (kind === PHONES) {
      const info = h("div", { class: "phone-info", "aria-live": "polite" });
      // The list's answer for the number as loaded, so nobody makes a listed number primary unawares.
      const listed = entry && "dnc" in entry && entry.dnc !== false ? dncCell(entry.dnc) : null;
      if (listed) value.addEventListener("input", () => { listed.hidden = value.value.trim() !== entry.number; });
      item.append(h("div", { class: "method-notes" }, listed, info));
      live(value, info);
    }
    return item;
  }

  // The API makes the first entry primary when none is flagged: the form shows it so.
  function settlePrimary() {
    const radios = rows.querySelectorAll(".method-primary");
    if (radios.length && !Array.from(radios).some((r) => r.checked)) radios[0].checked = true;
  }

  function add(entry) {
    const item = row(entry);
    rows.append(item);
    settlePrimary();
    return item;
  }

  for (const entry of entries?.length ? entries : [null]) add(entry);
  const element = h("fieldset", { class: "methods-edit", id: `${kind.plural}-edit` },
    h("legend", null, kind === PHONES ? "Phones" : "Emails"), rows,
    h("button", { type: "button", class: "small", id: `${kind.id}-add`, onclick: () => add(null).querySelector(".method-value").focus() },
      kind === PHONES ? "Add number" : "Add email"));

  return {
    element,
    // The list as typed (blank rows left out), in the order the API will number them.
    read() {
      sent = [];
      const list = [];
      for (const item of rows.querySelectorAll(".method-row")) {
        item.classList.remove("invalid");
        const value = item.querySelector(".method-value").value.trim();
        if (!value) continue;
        sent.push(item);
        list.push({ [kind.key]: value, type: item.querySelector(".method-type").value, primary: item.querySelector(".method-primary").checked });
      }
      return list;
    },
    changed(list, loaded) {
      return JSON.stringify(shape(kind, list)) !== JSON.stringify(shape(kind, loaded));
    },
    // Marks the rows a 400 names (`phones.2.number`: the third row sent).
    markErrors(details) {
      const pattern = new RegExp(`^${kind.plural}\\.(\\d+)\\b`);
      for (const detail of details) {
        const index = pattern.exec(detail.field || "")?.[1];
        sent[Number(index)]?.classList.add("invalid");
      }
    },
  };
}

// My edit of a list re-applied to the list someone else saved meanwhile (after a 412):
// what I removed goes, what I added comes, a type I changed and the primary I chose
// follow me; everything they added or changed that I did not touch stays.
export function rebase(kind, base, mine, theirs) {
  const key = kind.key;
  const baseBy = new Map((base || []).map((e) => [e[key], e]));
  const mineBy = new Map((mine || []).map((e) => [e[key], e]));
  const out = (theirs || [])
    .filter((e) => !baseBy.has(e[key]) || mineBy.has(e[key]))
    .map((e) => {
      const was = baseBy.get(e[key]);
      const now = mineBy.get(e[key]);
      return { ...e, type: was && now && now.type !== was.type ? now.type : e.type };
    });
  for (const entry of mine || []) {
    if (!baseBy.has(entry[key]) && !out.some((e) => e[key] === entry[key])) out.push({ ...entry, primary: false });
  }
  const basePrimary = (base || []).find((e) => e.primary)?.[key];
  const myPrimary = (mine || []).find((e) => e.primary)?.[key];
  if (myPrimary !== undefined && myPrimary !== basePrimary && out.some((e) => e[key] === myPrimary)) {
    for (const entry of out) entry.primary = entry[key] === myPrimary;
  }
  return out;
}
