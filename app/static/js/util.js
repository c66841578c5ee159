// Small helpers: safe text, links, secret masking, time.

const SECRET = /(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}|ek_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{30,}|(?<=Bearer )[A-Za-z0-9._~+/=-]{8,})/g;

export function mask(text) {
  return String(text).replace(SECRET, "***");
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const URL_RE = /https?:\/\/[^\s<>")\]]+[^\s<>")\].,;:!?]/g;

// Text with URLs turned into links; never innerHTML.
export function linkified(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    fragment.append(text.slice(last, match.index));
    fragment.append(el("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]));
    last = match.index + match[0].length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

// Paragraphs and list items of an answer, each linkified.
export function renderAnswer(container, text) {
  container.replaceChildren();
  let list = null;
  for (const line of text.split(/\n+/)) {
    const item = line.match(/^\s*(?:[-*•]|\d+[.)])\s+(.*)$/);
    if (item) {
      if (!list) { list = el("ul"); container.append(list); }
      list.append(el("li", {}, linkified(item[1])));
    } else if (line.trim()) {
      list = null;
      container.append(el("p", {}, linkified(line.trim())));
    }
  }
}

export function clock(iso) {
  const date = iso ? new Date(iso) : new Date();
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
