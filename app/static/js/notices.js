// Clear messages at the top of the page: one per problem (by id), replaced when it changes, removed when it
// is solved. Errors and warnings are announced (role=alert); info is polite.
import { h, icon } from "./dom.js";

const ICONS = {
  error: ["M12 8v5M12 16.5v.01", "M12 3a9 9 0 1 0 0 18a9 9 0 0 0 0-18z"],
  warning: ["M12 9v4M12 16.5v.01", "M10.3 4.2L2.6 18a2 2 0 0 0 1.7 3h15.4a2 2 0 0 0 1.7-3L13.7 4.2a2 2 0 0 0-3.4 0z"],
  info: ["M12 11v5M12 7.5v.01", "M12 3a9 9 0 1 0 0 18a9 9 0 0 0 0-18z"],
};

export class Notices {
  constructor(container) {
    this.container = container;
    this.items = new Map();
  }

  /**
   * @param {string} id  one notice per id
   * @param {{level?: "error"|"warning"|"info", title: string, text?: string,
   *          actions?: {label: string, onClick: Function}[], dismissible?: boolean, timeoutMs?: number}} notice
   */
  show(id, { level = "error", title, text = "", actions = [], dismissible = true, timeoutMs = 0 }) {
    const previous = this.items.get(id);
    if (previous) {
      clearTimeout(previous.timer);
      if (previous.title === title && previous.text === text) {
        if (timeoutMs) previous.timer = setTimeout(() => this.hide(id), timeoutMs);
        return;
      }
    }
    const buttons = actions.map((a) => h("button", { type: "button", class: "btn small", text: a.label, on: { click: a.onClick } }));
    if (dismissible) {
      buttons.push(h("button", { type: "button", class: "btn ghost small", text: "Dismiss",
        attrs: { "aria-label": `Dismiss: ${title}` }, on: { click: () => this.hide(id) } }));
    }
    const el = h("div", { class: "notice", dataset: { level, id }, attrs: { role: level === "info" ? "status" : "alert" } },
      h("span", { class: "notice-icon" }, icon(ICONS[level] ?? ICONS.info)),
      h("div", {}, h("p", { class: "notice-title", text: title }), text ? h("p", { class: "notice-text", text }) : null),
      buttons.length ? h("div", { class: "notice-actions" }, buttons) : null);
    if (previous) previous.el.replaceWith(el);
    else this.container.append(el);
    const entry = { el, title, text, timer: timeoutMs ? setTimeout(() => this.hide(id), timeoutMs) : null };
    this.items.set(id, entry);
  }

  hide(id) {
    const entry = this.items.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.el.remove();
    this.items.delete(id);
  }

  has(id) { return this.items.has(id); }
}
