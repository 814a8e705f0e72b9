// The workspace's Do-Not-Call list: add with a reason, list with filters, remove,
// history, a bulk check of pasted numbers (null means undecidable: never callable), and a
// CSV import (counts and the first errors by line).
import { api } from "./api.js";
import { h, clear, field, select, when } from "./dom.js";
import { session } from "./session.js";

const PAGE = 20;

function message(err) {
  return err.describe ? err.describe() : err.message;
}

export function render(el, { flash }) {
  const workspaceId = session.workspace;
  const listBody = h("tbody", { id: "dnc-rows" });
  const listMore = h("button", { type: "button", id: "dnc-more", hidden: true }, "Load more");
  const listCount = h("p", { class: "count", id: "dnc-count" });
  const historyBody = h("tbody", { id: "dnc-history" });
  const checkOut = h("div", { id: "dnc-check-result" });
  let offset = 0;

  const phone = h("input", { id: "dnc-phone", name: "phone", placeholder: "+1 415 555 1234", autocomplete: "off" });
  const reason = h("input", { id: "dnc-reason", name: "reason", placeholder: "Asked not to be called" });
  const addError = h("p", { class: "error", role: "alert" });
  const addForm = h("form", { id: "dnc-add", class: "inline", onsubmit: add },
    field("Phone", phone), field("Reason", reason), h("button", { type: "submit", class: "primary" }, "Add to DNC"), addError);

  const filters = {
    reason: h("input", { name: "reason", id: "dnc-filter-reason", placeholder: "reason" }),
    source: h("input", { name: "source", id: "dnc-filter-source", placeholder: "source" }),
    addedAfter: h("input", { name: "addedAfter", type: "date" }),
    addedBefore: h("input", { name: "addedBefore", type: "date" }),
  };
  const filterForm = h("form", { class: "inline", id: "dnc-filters", onsubmit: (e) => { e.preventDefault(); loadList(); } },
    field("Reason", filters.reason), field("Source", filters.source),
    field("Added from", filters.addedAfter), field("Added before", filters.addedBefore),
    h("button", { type: "submit" }, "Filter"));

  const historyPhone = h("input", { name: "phone", id: "dnc-history-phone", placeholder: "phone" });
  const historyAction = select("action", [["", "any action"], ["added", "added"], ["updated", "updated"], ["removed", "removed"]], "");
  const historyForm = h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); loadHistory(); } },
    field("Phone", historyPhone), field("Action", historyAction), h("button", { type: "submit" }, "Show"));

  const paste = h("textarea", { id: "dnc-check-input", rows: 5, placeholder: "One number per line" });
  const checkForm = h("form", { id: "dnc-check", onsubmit: check },
    field("Numbers to check", paste), h("button", { type: "submit", class: "primary" }, "Check"));

  const importFile = h("input", { type: "file", id: "dnc-import-file", name: "file", accept: ".csv,text/csv,text/plain", required: true });
  const importReason = h("input", { id: "dnc-import-reason", name: "reason", placeholder: "Opt-out list" });
  const importColumn = h("input", { id: "dnc-import-column", name: "phoneColumn", placeholder: "found by name" });
  const importOut = h("div", { id: "dnc-import-result" });
  const importForm = h("form", { id: "dnc-import", class: "inline", onsubmit: importCsv },
    field("CSV file", importFile), field("Reason", importReason), field("Phone column", importColumn),
    h("button", { type: "submit", class: "primary" }, "Import"));

  el.append(h("div", { class: "dnc" },
    h("section", { class: "card" }, h("h1", null, "Do-Not-Call list"), addForm),
    h("section", { class: "card" }, h("h2", null, "Import a CSV"), importForm, importOut),
    h("section", { class: "card" }, h("h2", null, "Listed numbers"), filterForm, listCount,
      h("table", { class: "list" }, h("thead", null, h("tr", null, ["Phone", "Reason", "Source", "Added", ""].map((c) => h("th", null, c)))), listBody),
      listMore),
    h("section", { class: "card" }, h("h2", null, "Bulk check"), checkForm, checkOut),
    h("section", { class: "card" }, h("h2", null, "History"), historyForm,
      h("table", { class: "list" }, h("thead", null, h("tr", null, ["When", "Phone", "Action", "Reason", "By"].map((c) => h("th", null, c)))), historyBody))));

  async function add(event) {
    event.preventDefault();
    addError.textContent = "";
    try {
      const result = await api("POST", "/v1/dnc", {
        body: { workspaceId, phone: phone.value, reason: reason.value || undefined },
        query: { refresh: "wait_for" },
      });
      flash(`${result.data.phone} ${result.meta?.existed ? "was already listed; reason updated" : "added to the DNC list"}.`);
      phone.value = "";
      reason.value = "";
      await Promise.all([loadList(), loadHistory()]);
    } catch (err) {
      addError.textContent = message(err);
    }
  }

  async function remove(entry) {
    try {
      await api("DELETE", `/v1/dnc/${encodeURIComponent(entry.phone)}`, { query: { workspaceId, refresh: "wait_for" } });
      flash(`${entry.phone} removed from the DNC list.`);
      await Promise.all([loadList(), loadHistory()]);
    } catch (err) {
      flash(message(err), "error");
    }
  }

  function listQuery() {
    const query = { workspaceId, limit: PAGE, offset };
    for (const [name, input] of Object.entries(filters)) {
      if (!input.value) continue;
      query[name] = input.type === "date" ? `${input.value}T00:00:00Z` : input.value;
    }
    return query;
  }

  async function loadList(more = false) {
    offset = more ? offset + PAGE : 0;
    try {
      const result = await api("GET", "/v1/dnc", { query: listQuery() });
      if (!more) clear(listBody);
      for (const entry of result.data) {
        listBody.append(h("tr", { dataset: { phone: entry.phone } },
          h("td", null, h("code", null, entry.phone)), h("td", null, entry.reason ?? ""), h("td", null, entry.source ?? ""),
          h("td", null, when(entry.addedAt)),
          h("td", null, h("button", { type: "button", class: "danger small", "aria-label": `Remove ${entry.phone}`, onclick: () => remove(entry) }, "Remove"))));
      }
      listCount.textContent = `${result.meta.total} listed`;
      listMore.hidden = !result.meta.hasMore;
    } catch (err) {
      listCount.textContent = message(err);
    }
  }
  listMore.addEventListener("click", () => loadList(true));

  async function loadHistory() {
    try {
      const result = await api("GET", "/v1/dnc/history", {
        query: { workspaceId, phone: historyPhone.value, action: historyAction.value, limit: PAGE },
      });
      clear(historyBody).append(...result.data.map((event) => h("tr", null,
        h("td", null, when(event.at)), h("td", null, h("code", null, event.phone)), h("td", null, event.action),
        h("td", null, event.reason ?? ""), h("td", null, event.actor ?? ""))));
    } catch (err) {
      clear(historyBody).append(h("tr", null, h("td", { colspan: 5 }, message(err))));
    }
  }

  async function importCsv(event) {
    event.preventDefault();
    const file = importFile.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file, file.name);
    clear(importOut).append(h("p", { class: "muted" }, "Importing…"));
    try {
      const result = await api("POST", "/v1/dnc/import", {
        form, query: { workspaceId, reason: importReason.value, phoneColumn: importColumn.value.trim() },
      });
      const { added, updated, invalid, errors = [] } = result.data;
      const names = ["added", "updated", "invalid"];
      clear(importOut).append(
        h("table", { class: "counts", id: "dnc-import-counts" },
          h("tr", null, names.map((n) => h("th", null, n))),
          h("tr", null, names.map((n) => h("td", { dataset: { count: n } }, String(result.data[n] ?? 0))))),
        errors.length
          ? h("table", { class: "row-errors", id: "dnc-import-errors" },
            h("tr", null, ["line", "value", "message"].map((n) => h("th", null, n))),
            errors.slice(0, 20).map((e) => h("tr", null, h("td", null, String(e.line)), h("td", null, e.value ?? ""), h("td", null, e.message))))
          : h("p", { class: "muted" }, "No row errors."));
      flash(`DNC import: ${added} added, ${updated} updated, ${invalid} invalid.`);
      importFile.value = "";
      await Promise.all([loadList(), loadHistory()]);
    } catch (err) {
      clear(importOut).append(h("p", { class: "error", role: "alert" }, message(err)));
    }
  }

  async function check(event) {
    event.preventDefault();
    const phones = paste.value.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
    if (!phones.length) return;
    try {
      const result = await api("POST", "/v1/dnc/check", { body: { workspaceId, phones } });
      const verdict = (r) => r.dnc === true ? h("span", { class: "badge dnc" }, "DNC: do not call")
        : r.dnc === false ? h("span", { class: "badge ok" }, "callable")
        : h("span", { class: "badge unknown" }, `undecided: ${(r.validationErrors || []).join("; ") || "invalid"}`);
      clear(checkOut).append(
        h("p", { class: "count" }, `${result.meta.listed ?? 0} listed · ${result.meta.invalid ?? 0} invalid · ${result.data.length} checked`),
        h("table", { class: "list", id: "dnc-check-table" },
          h("tr", null, ["As typed", "E.164", "Answer", "Reason"].map((c) => h("th", null, c))),
          result.data.map((r) => h("tr", { dataset: { dnc: String(r.dnc) } },
            h("td", null, r.phone), h("td", null, h("code", null, r.normalized ?? "")), h("td", null, verdict(r)), h("td", null, r.reason ?? "")))));
    } catch (err) {
      clear(checkOut).append(h("p", { class: "error", role: "alert" }, message(err)));
    }
  }

  loadList();
  loadHistory();
  phone.focus();
}
