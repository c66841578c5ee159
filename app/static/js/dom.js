// Building DOM from text nodes only (never HTML strings): every string becomes a text node, so server data can never become markup.

/**
 * h("p", {class: "x", dataset: {a: "1"}, attrs: {"aria-label": "y"}, on: {click: fn}}, "text", child, [more])
 * `text` sets textContent; null/undefined/false children are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (/HTML$/i.test(key)) throw new Error("h(): HTML strings are not allowed");
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "attrs") setAttributes(el, value);
    else if (key === "on") for (const [name, fn] of Object.entries(value)) el.addEventListener(name, fn);
    else if (key in el) el[key] = value;
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function setAttributes(el, attrs) {
  for (const [name, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) el.setAttribute(name, v === true ? "" : String(v));
  }
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** An inline SVG icon from path data (static strings from our own code only). */
export function icon(pathData, className = "") {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  if (className) svg.setAttribute("class", className);
  for (const d of [].concat(pathData)) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** Keep a scroll container pinned to the bottom, unless the person scrolled up to read. */
export function stickToBottom(container) {
  const nearBottom = () => container.scrollHeight - container.scrollTop - container.clientHeight < 48;
  let pinned = true;
  container.addEventListener("scroll", () => { pinned = nearBottom(); }, { passive: true });
  return () => { if (pinned) container.scrollTop = container.scrollHeight; };
}
