// DOM building without HTML parsing: every string becomes a text node, so a contact
// named "<img src=x onerror=...>" is shown as those characters and never runs.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "selected") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// Text with the API's character spans ({start, end}, end exclusive) wrapped in <mark>.
export function highlighted(value, spans) {
  const text = String(value ?? "");
  const out = document.createDocumentFragment();
  let at = 0;
  const sorted = [...(spans || [])].sort((a, b) => a.start - b.start);
  for (const { start, end } of sorted) {
    const from = Math.max(at, Math.min(start, text.length));
    const to = Math.min(Math.max(end, from), text.length);
    if (to <= from) continue;
    if (from > at) out.append(document.createTextNode(text.slice(at, from)));
    out.append(h("mark", null, text.slice(from, to)));
    at = to;
  }
  if (at < text.length) out.append(document.createTextNode(text.slice(at)));
  return out;
}

export function field(label, input, extra) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), input, extra);
}

export function select(name, options, value, props = {}) {
  return h(
    "select",
    { name, ...props },
    options.map(([optionValue, text]) =>
      h("option", { value: optionValue, selected: optionValue === value }, text),
    ),
  );
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
