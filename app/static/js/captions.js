// Live captions for the person and the narrator: deltas grow a caption as it is spoken, the final text
// replaces it. The list is an aria-live log, so screen readers hear new lines.
import { h } from "./dom.js";
import { maskText } from "./mask.js";
import { stickToBottom } from "./dom.js";

const MAX_CAPTIONS = 40;
const WHO = { user: "You", assistant: "Narrator" };

export class Captions {
  constructor(list, emptyNote) {
    this.list = list;
    this.emptyNote = emptyNote;
    this.byItem = new Map();
    this.follow = stickToBottom(list);
  }

  /** A caption message from /ws/voice: {role, item_id, delta?, text?, final}. */
  handle(message) {
    const role = message.role === "user" ? "user" : "assistant";
    const key = `${role}:${message.item_id || "local"}`;
    let entry = this.byItem.get(key);
    if (!entry) entry = this.add(role, key);
    if (message.final) {
      entry.text.textContent = maskText(message.text ?? entry.text.textContent);
      entry.row.dataset.streaming = "false";
    } else if (message.delta) {
      entry.text.textContent += maskText(message.delta);
      entry.row.dataset.streaming = "true";
    }
    if (message.final && !entry.text.textContent.trim()) this.remove(key);
    this.follow();
  }

  /** Something the person typed while the voice session was live. */
  typed(text) {
    this.handle({ role: "user", item_id: `typed-${Date.now()}`, text, final: true });
  }

  /** Barge-in: the narrator was cut off. */
  interrupted(itemId) {
    const entry = this.byItem.get(`assistant:${itemId}`);
    if (entry) {
      entry.row.dataset.interrupted = "true";
      entry.row.dataset.streaming = "false";
    }
  }

  add(role, key) {
    const text = h("span", { class: "caption-text" });
    const row = h("li", { class: "caption", dataset: { role, streaming: "true" } },
      h("span", { class: "who", text: WHO[role] }), text);
    this.list.append(row);
    const entry = { row, text };
    this.byItem.set(key, entry);
    this.emptyNote.hidden = true;
    while (this.list.children.length > MAX_CAPTIONS) {
      const first = this.list.firstElementChild;
      for (const [k, v] of this.byItem) if (v.row === first) this.byItem.delete(k);
      first.remove();
    }
    return entry;
  }

  remove(key) {
    this.byItem.get(key)?.row.remove();
    this.byItem.delete(key);
    this.emptyNote.hidden = this.list.children.length > 0;
  }
}
