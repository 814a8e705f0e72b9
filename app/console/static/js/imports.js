// CSV import: choose a file -> dry-run preview (encoding, delimiter, per-column mapping,
// counts, first errors) -> import -> progress from the job -> the failed rows file. The
// default country reads phones written without a country code (empty: the server's).
import { api, download } from "./api.js";
import { h, clear, field, select } from "./dom.js";
import { session } from "./session.js";

const TARGETS = ["firstName", "lastName", "fullName", "phone", "email", "company", "notes", "tags"];
const POLL_MS = 400;

function countsTable(counts) {
  const names = ["total", "created", "updated", "skipped", "invalid"];
  return h("table", { class: "counts", id: "import-counts" },
    h("tr", null, names.map((n) => h("th", null, n))),
    h("tr", null, names.map((n) => h("td", { dataset: { count: n } }, String(counts?.[n] ?? 0)))));
}

function errorsTable(errors) {
  if (!errors?.length) return h("p", { class: "muted" }, "No row errors.");
  return h("table", { class: "row-errors", id: "import-errors" },
    h("tr", null, ["line", "field", "message", "value"].map((n) => h("th", null, n))),
    errors.map((e) => h("tr", null, h("td", null, String(e.line)), h("td", null, e.field), h("td", null, e.message), h("td", null, e.value ?? ""))));
}

export function render(el, { flash }) {
  const workspaceId = session.workspace;
  let file = null;
  let mapping = null; // column -> target (null: ignored), from the preview, edited here
  let stopped = false;
  const fileInput = h("input", { type: "file", id: "import-file", accept: ".csv,text/csv,text/plain" });
  const onDuplicate = select("onDuplicate", [["skip", "skip duplicates"], ["update", "update duplicates"], ["create", "create anyway"]], "skip", { id: "on-duplicate" });
  const country = h("input", {
    id: "import-country", name: "defaultCountry", maxlength: 2, size: 4, placeholder: "US",
    autocomplete: "off", pattern: "[A-Za-z]{2}", title: "Two-letter country code (ISO 3166)",
  });
  const preview = h("div", { id: "import-preview" });
  const outcome = h("div", { id: "import-outcome" });
  el.append(h("section", { class: "card import" },
    h("h1", null, "Import contacts"),
    h("p", { class: "muted" }, "CSV in UTF-8, UTF-16 or Windows-1252; comma, semicolon, tab or pipe. Nothing is written until you press Import."),
    h("div", { class: "inline" }, field("CSV file", fileInput), field("Duplicates (same phone or email)", onDuplicate),
      field("Default country", country)),
    preview, outcome));

  const form = (dryRun) => {
    const data = new FormData();
    data.append("workspaceId", workspaceId);
    data.append("onDuplicate", onDuplicate.value);
    data.append("dryRun", String(dryRun));
    if (country.value.trim()) data.append("defaultCountry", country.value.trim().toUpperCase());
    if (mapping) data.append("mapping", JSON.stringify(mapping));
    data.append("file", file, file.name);
    return data;
  };

  async function run(dryRun, onProgress) {
    let result = await api("POST", "/v1/contacts/import", { form: form(dryRun) });
    let record = result.data;
    onProgress?.(record);
    while (!stopped && (record.status === "queued" || record.status === "running")) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      result = await api("GET", `/v1/contacts/imports/${encodeURIComponent(record.id)}`);
      record = result.data;
      onProgress?.(record);
    }
    return record;
  }

  async function dryRun() {
    clear(outcome);
    clear(preview).append(h("p", { class: "muted" }, "Checking the file…"));
    try {
      const record = await run(true);
      if (record.status === "failed") throw new Error(record.failure?.message || "The file could not be read.");
      mapping = { ...(record.mapping || {}) };
      showPreview(record);
    } catch (err) {
      clear(preview).append(h("p", { class: "error", role: "alert" }, err.describe ? err.describe() : err.message));
    }
  }

  function showPreview(record) {
    const rows = Object.entries(mapping).map(([column, target]) => {
      const custom = `customFields.${column.slice(0, 64)}`;
      const options = [...TARGETS.map((t) => [t, t]), [custom, custom], ["", "(ignore)"]];
      if (target && !options.some(([v]) => v === target)) options.unshift([target, target]);
      return h("tr", null, h("td", { class: "column" }, column),
        h("td", null, select(`map-${column}`, options, target ?? "", {
          "aria-label": `Field for column ${column}`, dataset: { column },
          onchange: (e) => { mapping[column] = e.target.value || null; dryRun(); },
        })));
    });
    clear(preview).append(
      h("h2", null, "Preview (dry run)"),
      h("p", { id: "import-format" }, `Encoding ${record.encoding ?? "?"} · delimiter `,
        h("code", null, JSON.stringify(record.delimiter ?? "?")), ` · ${record.counts.total} rows`),
      (record.warnings || []).map((w) => h("p", { class: "flash warn" }, w)),
      h("table", { class: "mapping", id: "import-mapping" }, h("tr", null, h("th", null, "CSV column"), h("th", null, "Contact field")), rows),
      countsTable(record.counts),
      h("h3", null, "First errors"),
      errorsTable(record.errors),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", id: "import-run", onclick: importNow }, `Import ${record.counts.total} rows`)),
    );
  }

  async function importNow() {
    const bar = h("progress", { id: "import-progress", max: 100, value: 0 });
    const label = h("span", { id: "import-progress-label" }, "Uploading…");
    clear(outcome).append(h("h2", null, "Importing"), bar, " ", label);
    preview.querySelector("#import-run")?.setAttribute("disabled", "");
    try {
      const record = await run(false, (r) => {
        bar.value = r.progress?.percent ?? 0;
        const total = r.progress?.rowsTotal;
        label.textContent = `${r.status}: ${r.progress?.rowsDone ?? 0}${total ? ` of ${total}` : ""} rows`;
      });
      if (record.status === "failed") throw new Error(record.failure?.message || "The import failed.");
      bar.value = 100;
      label.textContent = "completed";
      outcome.append(h("h2", { id: "import-done" }, "Imported"), countsTable(record.counts), errorsTable(record.errors));
      if (record.errorsUrl && record.counts.invalid > 0) {
        outcome.append(h("button", { type: "button", id: "import-errors-csv", onclick: async () => {
          try {
            await download(new URL(record.errorsUrl, location.origin).pathname, null, `${record.id}-errors.csv`);
          } catch (err) {
            flash(err.describe ? err.describe() : err.message, "error");
          }
        } }, `Download the ${record.counts.invalid} failed rows (CSV)`));
      }
      flash(`Import ${record.id} completed.`);
    } catch (err) {
      outcome.append(h("p", { class: "error", role: "alert" }, err.describe ? err.describe() : err.message));
    }
  }

  fileInput.addEventListener("change", () => {
    file = fileInput.files[0] || null;
    mapping = null;
    if (file) dryRun();
  });
  onDuplicate.addEventListener("change", () => file && dryRun());
  country.addEventListener("change", () => file && dryRun());
  return () => { stopped = true; };
}
