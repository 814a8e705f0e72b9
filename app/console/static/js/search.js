// Search as you type: a request per keystroke, stale ones aborted (AbortController) and
// their answers discarded; highlights drawn from the API's character spans; infinite
// scroll on the opaque cursor. Date filters are whole UTC days: "from" D is >= D 00:00Z,
// "before" D is < D 00:00Z. Each rendered answer records a performance measure,
// "console:keypress-to-results", from the keystroke to the frame that shows it.
import { api, download } from "./api.js";
import { h, clear, highlighted, field, select, debounce } from "./dom.js";
import { session } from "./session.js";

const PAGE = 25;
const MEASURE = "console:keypress-to-results";
// Kept across visits, so coming back from a contact shows the same search.
const state = {
  query: "",
  sort: "relevance",
  filters: {
    company: "", tags: "", tagsMode: "any", hasPhone: "", hasEmail: "", dnc: "",
    createdFrom: "", createdBefore: "", updatedFrom: "", updatedBefore: "",
  },
};

export function filtersBody(filters) {
  const body = {};
  if (filters.company.trim()) body.company = filters.company.trim();
  const tags = filters.tags.split(",").map((t) => t.trim()).filter(Boolean);
  if (tags.length) body.tags = { [filters.tagsMode]: tags };
  for (const key of ["hasPhone", "hasEmail", "dnc"]) {
    if (filters[key] !== "") body[key] = filters[key] === "true";
  }
  for (const name of ["created", "updated"]) {
    const range = {};
    if (filters[`${name}From`]) range.gte = `${filters[`${name}From`]}T00:00:00Z`;
    if (filters[`${name}Before`]) range.lt = `${filters[`${name}Before`]}T00:00:00Z`;
    if (Object.keys(range).length) body[`${name}At`] = range;
  }
  return body;
}

// The GET export takes inclusive bounds: "before" D becomes the last millisecond of D-1.
function inclusiveEnd(lt) {
  return new Date(Date.parse(lt) - 1).toISOString();
}

function exportQuery(workspaceId) {
  const filters = filtersBody(state.filters);
  const query = { workspaceId, query: state.query, sort: state.sort };
  if (filters.company) query.company = filters.company;
  if (filters.tags?.any) query.tags = filters.tags.any.join(",");
  if (filters.tags?.all) query.tagsAll = filters.tags.all.join(",");
  for (const key of ["hasPhone", "hasEmail", "dnc"]) {
    if (key in filters) query[key] = String(filters[key]);
  }
  for (const name of ["created", "updated"]) {
    const range = filters[`${name}At`];
    if (range?.gte) query[`${name}From`] = range.gte;
    if (range?.lt) query[`${name}To`] = inclusiveEnd(range.lt);
  }
  return query;
}

// Beside the primary number or address: when the query matched another one and not the
// primary (the API's `phones` / `emails` highlights: a caller ID showing a mobile that
// is not the primary), the first such one, marked with its type and highlighted; then
// "+N more" for the rest, listed in its tooltip.
function others(hit, plural, key, primaryMatched) {
  const entries = hit[plural] || [];
  const matched = primaryMatched ? undefined : (hit.highlights || []).find(
    (hl) => hl.field === plural && hl.index > 0 && entries[hl.index]?.[key] === hl.value,
  );
  const rest = entries.filter((e, i) => i > 0 && i !== matched?.index).map((e) => e[key]);
  const type = matched ? entries[matched.index].type || "other" : "";
  return [
    matched
      ? h("span", { class: "matched-other", title: `Matched the ${type} one`, dataset: { index: matched.index } },
          h("span", { class: "matched-type" }, type), highlighted(matched.value, matched.spans))
      : null,
    rest.length ? h("span", { class: "more-count", title: rest.join(", ") }, ` +${rest.length} more`) : null,
  ];
}

function hitItem(hit, index) {
  const primaries = (hit.highlights || []).filter((hl) => hl.field !== "phones" && hl.field !== "emails");
  const marks = Object.fromEntries(primaries.map((hl) => [hl.field, hl]));
  const part = (name) =>
    marks[name] ? highlighted(marks[name].value, marks[name].spans) : (hit[name] ?? "");
  const name = [];
  if (hit.firstName) name.push(h("span", { class: "first" }, part("firstName")));
  if (hit.firstName && hit.lastName) name.push(" ");
  if (hit.lastName) name.push(h("span", { class: "last" }, part("lastName")));
  if (!name.length) name.push(h("span", { class: "unnamed" }, "(no name)"));
  let badge = null;
  if (hit.dnc === true) badge = h("span", { class: "badge dnc", title: "On the Do-Not-Call list" }, "DNC");
  else if (hit.dnc === null) badge = h("span", { class: "badge unknown", title: "DNC list unreadable: do not call" }, "DNC ?");
  return h(
    "li",
    { class: "hit", role: "option", id: `hit-${index}`, "aria-selected": "false", dataset: { id: hit.id } },
    h("a", { href: `#/contacts/${hit.id}`, tabindex: "-1" },
      h("div", { class: "name" }, name, badge),
      h("div", { class: "meta" },
        hit.company ? h("span", { class: "company" }, part("company")) : null,
        hit.email ? h("span", { class: "email" }, part("email"), others(hit, "emails", "address", "email" in marks)) : null,
        hit.phone ? h("span", { class: "phone" }, part("phone"), others(hit, "phones", "number", "phone" in marks)) : null,
      ),
    ),
  );
}

export function render(el, { flash }) {
  const workspaceId = session.workspace;
  let controller = null;
  let generation = 0;
  let cursor = null;
  let loadingMore = false;
  let selected = -1;
  let keyTime = null;

  const box = h("input", {
    id: "search", type: "search", value: state.query, placeholder: "Search names, companies, emails, phones  ( / )",
    autocomplete: "off", spellcheck: "false", "aria-label": "Search contacts", "aria-controls": "results",
  });
  const list = h("ul", { id: "results", role: "listbox", "aria-label": "Contacts" });
  const count = h("p", { id: "result-count", class: "count" });
  const sentinel = h("div", { id: "more", class: "more" });
  const problem = h("p", { class: "error", role: "alert" });

  const f = state.filters;
  const company = h("input", { name: "company", value: f.company, placeholder: "Company" });
  const tags = h("input", { name: "tags", value: f.tags, placeholder: "tag1, tag2" });
  const tri = (name, label) =>
    field(label, select(name, [["", "any"], ["true", "yes"], ["false", "no"]], f[name], {
      onchange: (e) => { f[name] = e.target.value; refresh(); },
    }));
  const day = (name, label) => field(label, h("input", {
    type: "date", name, id: `filter-${name}`, value: f[name], class: "day",
    onchange: (e) => { f[name] = e.target.value; refresh(); },
  }));
  const filters = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    field("Company", company),
    field("Tags", tags),
    field("Match", select("tagsMode", [["any", "any tag"], ["all", "all tags"]], f.tagsMode, {
      onchange: (e) => { f.tagsMode = e.target.value; refresh(); },
    })),
    tri("hasPhone", "Has phone"),
    tri("hasEmail", "Has email"),
    tri("dnc", "DNC"),
    day("createdFrom", "Created from"),
    day("createdBefore", "Created before"),
    day("updatedFrom", "Updated from"),
    day("updatedBefore", "Updated before"),
    field("Sort", select("sort", [
      ["relevance", "Relevance"], ["lastName", "Last name"], ["firstName", "First name"],
      ["company", "Company"], ["createdAt:desc", "Newest"], ["updatedAt:desc", "Recently updated"],
    ], state.sort, { onchange: (e) => { state.sort = e.target.value; refresh(); } })),
    h("button", { type: "button", id: "export", onclick: exportCsv }, "Export CSV"),
  );
  const later = debounce(() => refresh(), 250);
  company.addEventListener("input", () => { f.company = company.value; later(); });
  tags.addEventListener("input", () => { f.tags = tags.value; later(); });

  el.append(h("section", { class: "search" }, h("div", { class: "searchbar" }, box), filters, count, problem, list, sentinel));

  async function exportCsv() {
    try {
      const name = await download("/v1/contacts/export", exportQuery(workspaceId), "contacts.csv");
      flash(`Exported ${name}`);
    } catch (err) {
      flash(err.describe ? err.describe() : err.message, "error");
    }
  }

  function move(index) {
    const items = list.querySelectorAll(".hit");
    if (!items.length) return;
    selected = Math.max(0, Math.min(index, items.length - 1));
    for (const [i, item] of Array.from(items).entries()) {
      item.setAttribute("aria-selected", String(i === selected));
    }
    box.setAttribute("aria-activedescendant", items[selected].id);
    items[selected].scrollIntoView({ block: "nearest" });
  }

  box.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") { event.preventDefault(); move(selected + 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(selected - 1); }
    else if (event.key === "Enter") {
      event.preventDefault();
      const item = list.querySelectorAll(".hit")[Math.max(selected, 0)];
      if (item?.dataset.id) location.hash = `#/contacts/${item.dataset.id}`;
    } else if (event.key.length === 1 || event.key === "Backspace" || event.key === "Delete") {
      keyTime = event.timeStamp;
    }
  });
  box.addEventListener("input", () => {
    state.query = box.value;
    refresh(keyTime ?? performance.now());
    keyTime = null;
  });

  async function refresh(startedAt = performance.now(), more = false) {
    if (!more) {
      controller?.abort();
      cursor = null;
    }
    const mine = ++generation;
    const ctl = new AbortController();
    controller = ctl;
    const query = state.query;
    const body = { workspaceId, query, filters: filtersBody(f), sort: state.sort, limit: PAGE };
    if (more) body.cursor = cursor;
    list.dataset.state = "loading";
    try {
      const result = await api("POST", "/v1/contacts/search", { body, signal: ctl.signal });
      if (mine !== generation) return; // a newer keystroke or filter owns the list now
      problem.textContent = "";
      const items = result.data.map((hit, i) => hitItem(hit, (more ? list.children.length : 0) + i));
      if (more) list.append(...items);
      else {
        list.replaceChildren(...items);
        selected = -1;
        box.removeAttribute("aria-activedescendant");
      }
      cursor = result.meta.hasMore ? result.meta.nextCursor : null;
      const total = result.meta.total;
      count.textContent = result.meta.totalIsExact === false
        ? `about ${total.toLocaleString()} contacts`
        : `${total.toLocaleString()} contact${total === 1 ? "" : "s"}`;
      if (!list.children.length) list.append(h("li", { class: "empty" }, query ? "No contact matches." : "No contacts yet."));
      list.dataset.query = query;
      list.dataset.state = "ready";
      if (!more) {
        requestAnimationFrame(() => {
          if (mine === generation) performance.measure(MEASURE, { start: startedAt, end: performance.now(), detail: { query } });
        });
      }
    } catch (err) {
      if (err.name === "AbortError" || mine !== generation) return;
      list.dataset.state = "error";
      problem.textContent = err.describe ? err.describe() : err.message;
    } finally {
      if (more) loadingMore = false;
    }
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && cursor && !loadingMore && list.dataset.state === "ready") {
      loadingMore = true;
      refresh(performance.now(), true);
    }
  }, { rootMargin: "200px" });
  observer.observe(sentinel);

  box.focus();
  refresh();
  return () => {
    observer.disconnect();
    controller?.abort();
  };
}
