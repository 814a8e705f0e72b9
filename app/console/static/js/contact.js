// One contact: view, create, edit (If-Match; a 412 offers to reload and re-apply the
// user's changes), delete. Every phone and email is shown and edited as rows (methods.js:
// each number's DNC state, live normalization, whole lists sent only when changed). Custom
// fields are key/value rows; a change sends the whole edited object as `customFields`.
import { api, ApiError } from "./api.js";
import { h, append, clear, field, when } from "./dom.js";
import { session } from "./session.js";
import { KINDS, PHONES, methodsView, methodsEditor, addNationalFormats, rebase } from "./methods.js";

const FIELDS = [
  ["firstName", "First name"],
  ["lastName", "Last name"],
  ["company", "Company"],
  ["tags", "Tags"],
  ["notes", "Notes"],
];

function formValue(contact, name) {
  if (name === "tags") return (contact?.tags || []).join(", ");
  return contact?.[name] ?? "";
}

function parsed(name, text) {
  if (name === "tags") return text.split(",").map((t) => t.trim()).filter(Boolean);
  return text.trim() === "" ? null : text.trim();
}

function same(name, a, b) {
  return name === "tags" ? JSON.stringify(a || []) === JSON.stringify(b || []) : (a ?? null) === (b ?? null);
}

function customEntries(object) {
  return Object.entries(object || {}).sort(([a], [b]) => a.localeCompare(b));
}

function sameCustom(a, b) {
  return JSON.stringify(customEntries(a)) === JSON.stringify(customEntries(b));
}

function customRow(key = "", value = "") {
  const row = h("div", { class: "custom-row inline" },
    h("input", { class: "custom-key", value: key, placeholder: "key", maxlength: 64, "aria-label": "Custom field key", autocomplete: "off" }),
    h("input", { class: "custom-value", value: value === null ? "" : String(value), placeholder: "value", "aria-label": "Custom field value", autocomplete: "off" }));
  row.append(h("button", { type: "button", class: "small", "aria-label": "Remove custom field", onclick: () => row.remove() }, "Remove"));
  return row;
}

// The rows as an object; a value left as it was keeps its type (a number stays a number).
function readCustom(rows, original) {
  const out = {};
  for (const row of rows.querySelectorAll(".custom-row")) {
    const key = row.querySelector(".custom-key").value.trim();
    if (!key) continue;
    const text = row.querySelector(".custom-value").value;
    const before = original?.[key];
    out[key] = before !== undefined && before !== null && String(before) === text ? before : text;
  }
  return out;
}

// The contact's flag is "any number listed": with some numbers callable, say how many are
// listed, so the header does not read as "never call this person".
function dncSummary(phones) {
  const listed = (phones || []).filter((p) => p.dnc !== false).length;
  const total = (phones || []).length;
  return listed < total ? `DNC: ${listed} of ${total} numbers listed` : "DNC: do not call";
}

export function render(el, { id, flash }) {
  const workspaceId = session.workspace;
  let contact = null;
  let etag = null;
  const aborts = new Set(); // live normalizations and the national-format call
  const section = h("section", { class: "contact card" });
  el.append(section);

  async function load() {
    const result = await api("GET", `/v1/contacts/${encodeURIComponent(id)}`);
    contact = result.data;
    etag = result.etag;
  }

  function showView() {
    clear(section);
    const row = ([name, label]) =>
      h("div", { class: "row" }, h("dt", null, label), h("dd", { dataset: { field: name } }, formValue(contact, name)));
    const methods = KINDS.map((kind) => h("div", { class: "row" },
      h("dt", null, kind === PHONES ? "Phones" : "Emails"), h("dd", null, methodsView(kind, contact[kind.plural]))));
    const badge = contact.dnc === true
      ? h("span", { class: "badge dnc", id: "contact-dnc" }, dncSummary(contact.phones))
      : contact.dnc === null ? h("span", { class: "badge unknown", id: "contact-dnc" }, "DNC list unreadable: do not call") : null;
    const name = [contact.firstName, contact.lastName].filter(Boolean).join(" ") || contact.company || contact.email || contact.phone || contact.id;
    const custom = customEntries(contact.customFields);
    section.append(
      h("h1", { id: "contact-name" }, h("bdi", null, name), " ", badge),
      h("dl", { class: "details" }, FIELDS.slice(0, 2).map(row), methods, FIELDS.slice(2).map(row),
        h("div", { class: "row" }, h("dt", null, "Created"), h("dd", null, when(contact.createdAt))),
        h("div", { class: "row" }, h("dt", null, "Updated"), h("dd", null, when(contact.updatedAt)))),
      h("h2", null, "Custom fields"),
      custom.length
        ? h("dl", { class: "details", id: "custom-fields" }, custom.map(([key, value]) =>
          h("div", { class: "row" }, h("dt", null, key), h("dd", { dataset: { custom: key } }, String(value ?? "")))))
        : h("p", { class: "muted", id: "custom-fields" }, "None."),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "edit", class: "primary", onclick: () => showForm(contact) }, "Edit"),
        deleteButton(),
        h("a", { href: "#/search" }, "Back to search")),
    );
    const phones = section.querySelector("table#phones");
    if (phones) {
      const controller = new AbortController();
      aborts.add(controller);
      addNationalFormats(phones, controller.signal).finally(() => aborts.delete(controller));
    }
  }

  function deleteButton() {
    const wrap = h("span", { class: "delete" });
    const ask = h("button", { type: "button", id: "delete", class: "danger", onclick: () => {
      clear(wrap).append(
        h("button", { type: "button", id: "confirm-delete", class: "danger", onclick: remove }, "Delete for good"),
        h("button", { type: "button", onclick: () => clear(wrap).append(ask) }, "Cancel"));
    } }, "Delete");
    wrap.append(ask);
    return wrap;
  }

  async function remove() {
    try {
      await api("DELETE", `/v1/contacts/${encodeURIComponent(id)}`, {
        query: { refresh: "wait_for" }, headers: etag ? { "If-Match": etag } : {},
      });
      flash("Contact deleted.");
      location.hash = "#/search";
    } catch (err) {
      flash(err.status === 412 ? "The contact changed meanwhile; reload it and try again." : err.describe(), "error");
    }
  }

  // `values`: what the form starts with (the contact, or the contact plus re-applied edits).
  function showForm(values, note) {
    clear(section);
    const inputs = {};
    for (const [name] of FIELDS) {
      inputs[name] = name === "notes"
        ? h("textarea", { name, id: `f-${name}`, rows: 3, value: formValue(values, name) })
        : h("input", { name, id: `f-${name}`, value: formValue(values, name), autocomplete: "off" });
    }
    const customRows = h("div", { id: "custom-rows" },
      customEntries(values?.customFields).map(([key, value]) => customRow(key, value)));
    const editors = KINDS.map((kind) => [kind, methodsEditor(kind, values?.[kind.plural], aborts)]);
    const errors = h("div", { id: "form-errors", class: "error", role: "alert" });
    const conflict = h("div", { id: "conflict" });
    const changes = () => {
      const patch = {};
      for (const [name] of FIELDS) {
        const value = parsed(name, inputs[name].value);
        if (!contact || !same(name, value, contact[name])) patch[name] = value;
      }
      for (const [kind, editor] of editors) {
        const list = editor.read();
        if (editor.changed(list, contact?.[kind.plural])) patch[kind.plural] = list;
      }
      const custom = readCustom(customRows, contact?.customFields);
      if (!sameCustom(custom, contact?.customFields)) patch.customFields = custom;
      return patch;
    };

    async function save(event) {
      event.preventDefault();
      clear(errors);
      clear(conflict);
      const patch = changes();
      try {
        if (!contact) {
          const body = { workspaceId };
          for (const [name, value] of Object.entries(patch)) {
            if (value !== null && !(Array.isArray(value) && !value.length)) body[name] = value;
            if (name === "customFields" && !Object.keys(value).length) delete body[name];
          }
          const result = await api("POST", "/v1/contacts", { body, query: { refresh: "wait_for" } });
          flash("Contact created.");
          location.hash = `#/contacts/${result.data.id}`;
          return;
        }
        if (!Object.keys(patch).length) return showView();
        const result = await api("PATCH", `/v1/contacts/${encodeURIComponent(id)}`, {
          body: patch, query: { refresh: "wait_for" }, headers: etag ? { "If-Match": etag } : {},
        });
        contact = result.data;
        etag = result.etag || etag;
        flash("Saved.");
        showView();
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.status === 412) {
          conflict.append(h("div", { class: "flash warn" },
            "Someone else changed this contact since you opened it. ",
            h("button", { type: "button", id: "reapply", onclick: () => reapply(patch) }, "Reload it and re-apply my changes")));
          return;
        }
        for (const [, editor] of editors) editor.markErrors(err.details);
        errors.append(err.message, h("ul", null, err.details.map((d) => h("li", null, d.field ? `${d.field}: ${d.message}` : d.message))));
      }
    }

    // Lists are re-applied as edits (rows added, removed, retyped), not as a whole list, so
    // a number someone else added meanwhile is kept.
    async function reapply(patch) {
      try {
        const base = contact;
        await load();
        const values = { ...contact, ...patch };
        for (const kind of KINDS) {
          if (kind.plural in patch) values[kind.plural] = rebase(kind, base[kind.plural], patch[kind.plural], contact[kind.plural]);
        }
        showForm(values, "Reloaded the latest version and re-applied your changes: review them and save.");
      } catch (err) {
        flash(err.describe ? err.describe() : err.message, "error");
      }
    }

    // dom.js's append, not the native one: that would show a missing note as "null".
    append(section, [
      h("h1", null, contact ? "Edit contact" : "New contact"),
      note ? h("p", { class: "flash info", id: "reapplied" }, note) : null,
      conflict,
      h("form", { id: "contact-form", class: "contact-form", onsubmit: save },
        FIELDS.slice(0, 2).map(([name, label]) => field(label, inputs[name])),
        editors.map(([, editor]) => editor.element),
        FIELDS.slice(2).map(([name, label]) => field(label, inputs[name])),
        h("fieldset", { class: "custom" }, h("legend", null, "Custom fields"), customRows,
          h("button", { type: "button", id: "custom-add", class: "small", onclick: () => {
            const row = customRow();
            customRows.append(row);
            row.querySelector(".custom-key").focus();
          } }, "Add field")),
        errors,
        h("div", { class: "actions" },
          h("button", { type: "submit", class: "primary", id: "save" }, contact ? "Save" : "Create"),
          h("button", { type: "button", onclick: () => (contact ? showView() : (location.hash = "#/search")) }, "Cancel"))),
    ]);
    inputs.firstName.focus();
  }

  const stop = () => aborts.forEach((controller) => controller.abort());
  if (!id) {
    showForm(null);
    return stop;
  }
  section.append(h("p", { class: "muted" }, "Loading…"));
  load().then(showView, (err) => {
    clear(section).append(h("p", { class: "error", role: "alert" },
      err.status === 404 ? "No such contact in this workspace." : err.describe ? err.describe() : err.message),
      h("a", { href: "#/search" }, "Back to search"));
  });
  return stop;
}
