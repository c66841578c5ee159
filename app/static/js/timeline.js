// The team timeline: who speaks, which tool runs with its arguments, progress, elapsed time, the answer.
import { el, renderAnswer } from "./util.js";

const TOOL_LABEL = {
  web_search: (a) => `web_search “${a.query ?? ""}”`,
  fetch_web_content: (a) => `fetch ${a.url ?? ""}`,
  wikipedia_search: (a) => `wikipedia “${a.query ?? ""}”`,
  arxiv_search: (a) => `arxiv “${a.query ?? ""}”`,
  run_python: () => "run_python",
};

function args(raw) {
  try { return JSON.parse(raw || "{}"); } catch { return {}; }
}

export class Timeline {
  constructor(root) {
    this.list = root.querySelector("#timeline");
    this.state = root.querySelector("#run-state");
    this.elapsed = root.querySelector("#elapsed");
    this.answer = root.querySelector("#answer");
    this.answerBody = root.querySelector("#answer-body");
    this.answerMeta = root.querySelector("#answer-meta");
    this.buttons = { pause: root.querySelector("#pause"), resume: root.querySelector("#resume"),
                     cancel: root.querySelector("#cancel") };
    this.startedAt = null;
    setInterval(() => this.tick(), 500);
  }

  tick() {
    this.elapsed.textContent = this.startedAt ? `${((Date.now() - this.startedAt) / 1000).toFixed(0)} s` : "";
  }

  setState(state) {
    this.state.textContent = state;
    this.buttons.pause.disabled = state !== "running";
    this.buttons.resume.disabled = state !== "paused";
    this.buttons.cancel.disabled = !["running", "pausing", "paused"].includes(state);
  }

  row(agent, body, extra = "") {
    const who = (agent || "system").toLowerCase();
    const item = el("li", { class: who }, el("span", { class: "agent" }, agent || "system"),
                    el("span", { class: `body ${extra}` }, body));
    this.list.append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  handle(event) {
    const data = event.data || {};
    switch (event.type) {
      case "run_started":
        this.list.replaceChildren();
        this.answer.hidden = true;
        this.startedAt = Date.parse(event.timestamp) || Date.now();
        this.row("You", data.task);
        break;
      case "system":
        if (data.state) this.setState(data.state);
        break;
      case "followup_queued":
        this.row("You", `${data.text} (queued as a follow-up)`);
        break;
      case "TextMessage":
        if (data.source !== "user") this.row(data.source, String(data.content).replace(/\n?\s*TERMINATE\s*$/, ""));
        break;
      case "ToolCallRequestEvent":
        for (const call of data.content || []) {
          const label = (TOOL_LABEL[call.name] || (() => call.name))(args(call.arguments));
          this.row(data.source, `⚙ ${label}`, "tool");
        }
        break;
      case "ToolCallExecutionEvent":
        for (const result of data.content || []) {
          const text = String(result.content || "");
          this.row(data.source, `${result.is_error ? "✗" : "✓"} ${result.name}: ${text.slice(0, 160)}${text.length > 160 ? "…" : ""}`, "tool");
        }
        break;
      case "run_finished":
        this.finish(data);
        break;
      case "error":
        this.row("error", `${data.code}: ${data.message}`);
        break;
    }
  }

  finish(data) {
    this.startedAt = null;
    this.tick();
    this.answer.hidden = false;
    renderAnswer(this.answerBody, data.final_answer || `The run ended: ${data.stop_reason}.`);
    const usage = data.usage || {};
    this.answerMeta.textContent = `${data.stop_reason} · ${data.duration_s}s · ${usage.model_calls ?? 0} model calls · `
      + `${(usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0)} tokens`;
  }
}
