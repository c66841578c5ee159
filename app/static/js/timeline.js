// The team timeline: one card per run (newest first) with its task, status, elapsed time and progress, the
// steps in order (which agent speaks, which tool runs with which arguments, what it returned) and the answer.
// Fed with /ws/team envelopes (live, from either socket: duplicates are dropped by seq) or a stored run's events.
import { renderAnswer } from "./answer.js";
import { h, icon } from "./dom.js";
import { formatDuration, formatElapsed, plural, renderRichText, stripTerminate, truncate } from "./format.js";
import { maskDeep, maskText } from "./mask.js";
import { NEXT_AGENT_LINE } from "./protocol.js";

const AGENTS = ["Manager", "Researcher", "Developer"];
const STATUS_LABEL = {
  running: "Running", pausing: "Pausing…", paused: "Paused", completed: "Completed", cancelled: "Cancelled",
  error: "Error", timeout: "Timed out", max_messages: "Message limit", interrupted: "Interrupted", reset: "Reset",
  closed: "Closed", stopped: "Stopped", budget: "Budget reached", no_progress: "No progress",
};
const TOOL_ICON = ["M14.7 6.3a4 4 0 0 0-5.4 5.4L3 18l3 3 6.3-6.3a4 4 0 0 0 5.4-5.4l-2.5 2.5-2.1-.4-.4-2.1z"];

function agentOf(source) {
  if (!source) return "system";
  if (source === "user") return "user";
  const match = AGENTS.find((a) => a.toLowerCase() === String(source).toLowerCase());
  return match || String(source);
}

function displayName(agent) {
  return agent === "user" ? "You" : agent;
}

export class Timeline {
  /**
   * @param {HTMLElement} container
   * @param {{live?: boolean, agents?: HTMLElement, empty?: HTMLElement, announce?: Function, onState?: Function}} options
   */
  constructor(container, options = {}) {
    this.container = container;
    this.live = options.live ?? true;
    this.agents = options.agents ?? null;
    this.empty = options.empty ?? null;
    this.announce = options.announce ?? (() => {});
    this.onState = options.onState ?? (() => {});
    this.seen = new Set();
    this.runs = new Map();
    this.sessionState = "idle";
    this.skewMs = Infinity; // client clock minus server clock (plus latency): for live elapsed time
    if (this.live) this.ticker = setInterval(() => this.tick(), 500);
  }

  /** A new conversation: the runs shown so far go (they stay in the store and in History). */
  clear() {
    for (const run of this.runs.values()) run.el.remove();
    this.runs.clear();
    if (this.empty) this.empty.hidden = false;
  }

  /** One envelope {source, type, seq, run_id, session_id, timestamp, data}. False if it was seen already. */
  ingest(event) {
    if (!event || typeof event !== "object") return false;
    if (typeof event.seq === "number") {
      if (this.seen.has(event.seq)) return false;
      this.seen.add(event.seq);
    }
    this.apply(event);
    return true;
  }

  /** Whether an event happened just now (not a replay of the session's past after a reload). */
  isRecent(event, withinMs = 30000) {
    const ts = Date.parse(event.timestamp);
    const skew = Number.isFinite(this.skewMs) ? this.skewMs : 0;
    return !Number.isFinite(ts) || Date.now() - skew - ts < withinMs;
  }

  apply(event) {
    const ts = Date.parse(event.timestamp);
    if (this.live && Number.isFinite(ts)) this.skewMs = Math.min(this.skewMs, Date.now() - ts);
    const data = event.data || {};
    switch (event.type) {
      case "system": return this.onSystem(event, data);
      case "status": return this.setSessionState(data.state);
      case "run_started": return this.onRunStarted(event, data);
      case "run_finished": return this.onRunFinished(event, data);
      case "followup_queued": return this.note(event, `Follow-up queued: “${truncate(maskText(data.text || data.task || ""), 200)}”`);
      case "run_resumed": return this.onRunResumed(event, data);
      case "error": return this.onError(event, data);
      case "pong": return undefined;
      default:
        if (event.source === "team") return this.onTeamEvent(event, data);
        return undefined;
    }
  }

  onSystem(event, data) {
    if (data.event === "reset") {
      this.setActiveAgent(null, "");
      this.clear();
      this.announce("New conversation: the team starts fresh.");
    }
    if (data.state) this.setSessionState(data.state);
  }

  setSessionState(state) {
    if (!state || state === this.sessionState) return;
    this.sessionState = state;
    const run = this.current();
    if (run && !run.finished && ["running", "pausing", "paused"].includes(state)) run.setStatus(state);
    if (state === "idle") this.setActiveAgent(null, "");
    this.onState(state);
  }

  current() {
    let latest = null;
    for (const run of this.runs.values()) if (!latest || run.order > latest.order) latest = run;
    return latest;
  }

  run(event) {
    if (!event.run_id) return this.current();
    return this.runs.get(event.run_id) ?? null;
  }

  onRunStarted(event, data) {
    if (this.runs.has(event.run_id)) return;
    for (const run of this.runs.values()) run.collapse();
    const run = new RunView(event, data, this.runs.size, this.live);
    this.runs.set(event.run_id, run);
    if (this.empty) this.empty.hidden = true;
    this.container.prepend(run.el);
    if (this.live) this.container.scrollTop = 0;
    this.announce(`The team started: ${truncate(data.task, 120)}`);
  }

  /** The run's worker stopped and another carries it on (a server with several workers): say so in the run. */
  onRunResumed(event, data) {
    if (!this.run(event) && event.run_id) this.onRunStarted({ ...event, seq: null }, { task: data.task || "" });
    this.note(event, `↻ ${data.message || "Resumed on another worker."}`);
    if (data.state) this.setSessionState(data.state);
    this.announce("The team's run was resumed on another worker.");
  }

  ensureRun(event) {
    let run = this.run(event);
    if (!run && event.run_id) {
      // Joined mid-run without its start (e.g. the store no longer had it): make a card anyway.
      this.onRunStarted({ ...event, seq: null }, { task: "(task not available)" });
      run = this.runs.get(event.run_id);
    }
    return run;
  }

  onRunFinished(event, data) {
    const run = this.ensureRun(event);
    if (!run) return;
    run.finish(event, data);
    this.setActiveAgent(null, "");
    const ended = STATUS_LABEL[data.stop_reason] || data.stop_reason;
    this.announce(data.stop_reason === "completed" ? "The answer is ready." : `The run ended: ${ended}.`);
  }

  onError(event, data) {
    const run = event.run_id ? this.runs.get(event.run_id) : null;
    if (run && !run.finished) run.addStep(event, "error", { who: "system", kind: "error" },
      h("p", { text: `${data.code || "error"}: ${maskText(data.message || "")}` }));
  }

  note(event, text) {
    const run = this.run(event);
    if (run) run.addStep(event, "note", { who: "system", kind: "" }, h("p", { text }));
  }

  onTeamEvent(event, data) {
    const run = this.ensureRun(event);
    if (!run) return;
    const agent = agentOf(data.source);
    switch (event.type) {
      case "SelectSpeakerEvent": {
        const next = agentOf(Array.isArray(data.content) ? data.content[0] : data.content);
        if (!run.finished) this.setActiveAgent(next, "thinking…");
        return;
      }
      case "TextMessage": {
        const content = typeof data.content === "string" ? data.content : JSON.stringify(data.content);
        if (agent === "user") {
          if (content.trim() === run.task.trim()) return;
          run.addStep(event, "message", { who: "user", kind: "follow-up" }, renderRichText(maskText(content)));
          return;
        }
        const handoff = NEXT_AGENT_LINE ? content.match(NEXT_AGENT_LINE) : null;
        const text = stripTerminate(NEXT_AGENT_LINE ? content.replace(NEXT_AGENT_LINE, "") : content).trim();
        run.addStep(event, "message", { who: agent, kind: "" },
          text ? renderRichText(maskText(text)) : null,
          handoff ? h("span", { class: "handoff", dataset: { agent: agentOf(handoff[1]) } }, `→ ${agentOf(handoff[1])}`) : null);
        run.count("messages");
        if (!run.finished) this.setActiveAgent(agent, handoff ? `handed over to ${agentOf(handoff[1])}` : "spoke");
        return;
      }
      case "ToolCallRequestEvent": {
        const calls = Array.isArray(data.content) ? data.content : [];
        const step = run.addStep(event, "tool", { who: agent, kind: calls.length > 1 ? `${calls.length} tool calls` : "tool call" },
          calls.map((call) => run.toolBlock(call)));
        step.dataset.tools = calls.map((c) => c.name).join(" ");
        run.count("tools", calls.length);
        if (!run.finished) this.setActiveAgent(agent, `running ${calls.map((c) => c.name).join(", ")}`);
        return;
      }
      case "ToolCallExecutionEvent": {
        const results = Array.isArray(data.content) ? data.content : [];
        for (const result of results) {
          if (!run.attachResult(result)) {
            run.addStep(event, "tool", { who: agent, kind: "tool result" }, run.resultBlock(result));
          }
        }
        if (!run.finished) this.setActiveAgent(agent, "reading the results");
        return;
      }
      case "ThoughtEvent":
        run.addStep(event, "thought", { who: agent, kind: "thinking" },
          h("p", { text: truncate(maskText(String(data.content ?? "")), 1200) }));
        return;
      case "ToolCallSummaryMessage":
      case "ModelClientStreamingChunkEvent":
      case "MemoryQueryEvent":
        return;
      case "CodeGenerationEvent":
      case "CodeExecutionEvent": {
        const body = typeof data.content === "string" ? data.content : JSON.stringify(data.content ?? data, null, 2);
        run.addStep(event, "tool", { who: agent, kind: event.type === "CodeGenerationEvent" ? "wrote code" : "ran code" },
          h("pre", { class: "tool", text: truncate(maskText(body), 4000) }));
        return;
      }
      default: {
        const content = data.content ?? data;
        const text = typeof content === "string" ? content : JSON.stringify(maskDeep(content));
        run.addStep(event, "other", { who: agent, kind: event.type }, h("p", { text: truncate(maskText(text), 600) }));
      }
    }
  }

  setActiveAgent(agent, activity) {
    const run = this.current();
    if (run && this.live) run.working(run.finished ? null : agent, activity);
    if (!this.agents) return;
    for (const li of this.agents.querySelectorAll(".agent")) {
      const active = li.dataset.agent === agent;
      li.dataset.active = String(active);
      const label = li.querySelector(".agent-activity");
      if (!li.dataset.idle) li.dataset.idle = label.textContent;
      label.textContent = active && activity ? activity : li.dataset.idle;
    }
  }

  tick() {
    const run = this.current();
    if (run && !run.finished) run.updateElapsed(Date.now() - (Number.isFinite(this.skewMs) ? this.skewMs : 0));
  }

  destroy() {
    clearInterval(this.ticker);
  }
}

class RunView {
  constructor(event, data, order, live) {
    this.id = event.run_id;
    this.order = order;
    this.live = live;
    this.task = String(data.task ?? "");
    this.started = Date.parse(event.timestamp);
    this.finished = false;
    this.counts = { messages: 0, tools: 0 };
    this.calls = new Map();
    this.status = h("span", { class: "status-badge", dataset: { status: "running" }, text: STATUS_LABEL.running });
    this.elapsed = h("span", { class: "elapsed", attrs: { "aria-label": "Elapsed time" }, text: "0:00" });
    this.progressText = h("span", { class: "progress-text", text: "Starting…" });
    this.progress = h("div", { class: "progress",
      attrs: { role: "progressbar", "aria-label": "Run progress", "aria-valuetext": "Starting" } }, h("span"));
    this.steps = h("ol", { class: "steps" });
    this.stepsCount = h("span", { text: "Steps" });
    this.details = h("details", { class: "steps-toggle", open: true }, h("summary", {}, this.stepsCount), this.steps);
    this.answerSlot = h("div", { class: "answer-slot" });
    const label = { "aria-label": `Run: ${truncate(this.task, 80)}` };
    this.el = h("article", { class: "run", dataset: { runId: this.id, status: "running" }, attrs: label },
      h("header", { class: "run-head" },
        h("p", { class: "run-task", text: maskText(this.task) }),
        h("div", { class: "run-meta" }, this.status, this.elapsed, this.progressText,
          data.followup ? h("span", { text: "follow-up" }) : null),
        this.progress),
      this.answerSlot,
      this.details);
    if (!live) this.elapsed.textContent = "";
  }

  setStatus(status) {
    this.el.dataset.status = status;
    this.status.dataset.status = status;
    this.status.textContent = STATUS_LABEL[status] || status;
  }

  collapse() {
    if (this.finished) this.details.open = false;
  }

  count(kind, n = 1) {
    this.counts[kind] += n;
    const parts = [plural(this.counts.messages, "message")];
    if (this.counts.tools) parts.push(plural(this.counts.tools, "tool call"));
    this.progressText.textContent = parts.join(" · ");
    this.progress.setAttribute("aria-valuetext", this.progressText.textContent);
  }

  updateElapsed(serverNow) {
    if (Number.isFinite(this.started)) this.elapsed.textContent = formatElapsed(serverNow - this.started);
  }

  relative(event) {
    const t = Date.parse(event.timestamp);
    if (!Number.isFinite(t) || !Number.isFinite(this.started)) return "";
    return `+${formatDuration(Math.max(0, (t - this.started) / 1000))}`;
  }

  addStep(event, kind, { who, kind: label }, ...body) {
    const agent = who;
    const initial = agent === "user" ? "Y" : agent === "system" ? "•" : agent.slice(0, 1).toUpperCase();
    const step = h("li", { class: "step", dataset: { kind, agent, seq: event.seq ?? "" } },
      h("span", { class: "avatar", attrs: { "aria-hidden": "true" }, text: initial }),
      h("div", { class: "step-head" },
        h("span", { class: "step-who", text: displayName(agent) }),
        label ? h("span", { class: "step-kind", text: label }) : null,
        h("time", { class: "step-time", dateTime: event.timestamp || "", text: this.relative(event) })),
      h("div", { class: "step-body" }, body));
    this.insert(step, event.seq);
    this.stepsCount.textContent = `Steps (${this.steps.querySelectorAll(".step:not(.pending)").length})`;
    return step;
  }

  /** A live row at the end: who is working now and on what. */
  working(agent, activity) {
    if (!agent || agent === "user" || agent === "system") {
      this.pendingRow?.remove();
      this.pendingRow = null;
      return;
    }
    const row = h("li", { class: "step pending", dataset: { agent, kind: "pending" }, attrs: { "aria-hidden": "true" } },
      h("span", { class: "avatar", text: agent.slice(0, 1).toUpperCase() }),
      h("div", { class: "step-head" }, h("span", { class: "step-who", text: agent }),
        h("span", { class: "step-kind working", text: (activity || "working").replace(/…$/, "") })));
    if (this.pendingRow) this.pendingRow.replaceWith(row);
    else this.steps.append(row);
    this.pendingRow = row;
  }

  // Keep steps in seq order even when the two sockets deliver slightly out of order.
  insert(step, seq) {
    if (typeof seq === "number") {
      for (const child of this.steps.children) {
        if (child.dataset.seq && Number(child.dataset.seq) > seq) {
          this.steps.insertBefore(step, child);
          return;
        }
      }
    }
    this.steps.insertBefore(step, this.pendingRow ?? null); // the live "working" row stays last
  }

  toolBlock(call) {
    let args = call.arguments;
    try {
      args = typeof args === "string" ? JSON.parse(args) : args;
    } catch {
      /* not JSON: shown as text */
    }
    args = maskDeep(args);
    const list = args && typeof args === "object" && !Array.isArray(args)
      ? h("dl", { class: "tool-args" }, Object.entries(args).flatMap(([k, v]) => [
        h("dt", { text: k }), h("dd", { text: truncate(typeof v === "string" ? v : JSON.stringify(v), 600) })]))
      : args ? h("dl", { class: "tool-args" }, h("dt", { text: "input" }), h("dd", { text: truncate(String(args), 600) })) : null;
    const result = h("div", { class: "tool-result-slot" }, h("p", { class: "step-kind", text: "running…" }));
    const block = h("div", { class: "tool", dataset: { callId: call.id || "" } },
      h("div", { class: "tool-name" }, icon(TOOL_ICON), call.name || "tool"), list, result);
    if (call.id) this.calls.set(call.id, result);
    return block;
  }

  resultBlock(result) {
    const content = maskText(typeof result.content === "string" ? result.content : JSON.stringify(result.content));
    const name = result.name || "tool";
    const summary = result.is_error ? `${name} failed` : `${name} returned ${content.length.toLocaleString()} characters`;
    return h("details", { class: "tool-result", dataset: { error: String(Boolean(result.is_error)) } },
      h("summary", { text: summary }),
      h("pre", { text: truncate(content, 6000) }));
  }

  attachResult(result) {
    const slot = result.call_id ? this.calls.get(result.call_id) : null;
    if (!slot) return false;
    slot.replaceChildren(this.resultBlock(result));
    return true;
  }

  finish(event, data) {
    this.finished = true;
    this.working(null);
    this.setStatus(data.stop_reason || "completed");
    if (Number.isFinite(data.duration_s)) this.elapsed.textContent = formatDuration(data.duration_s);
    const usd = runCost(data);
    if (usd !== null) {
      this.elapsed.after(h("span", { class: "run-cost", text: formatUsd(usd),
        attrs: { title: "What this run cost (model tokens at the server's price table)" } }));
    }
    this.progress.setAttribute("aria-valuetext", "Finished");
    for (const slot of this.calls.values()) {
      if (slot.querySelector(".step-kind")) slot.replaceChildren(h("p", { class: "step-kind", text: "no result" }));
    }
    this.answerSlot.replaceChildren(renderAnswer(data));
  }
}

/** The run's cost in USD from run_finished.spent.usd, or null when the server does not know it. */
export function runCost(data) {
  const usd = data?.spent?.usd;
  return typeof usd === "number" && Number.isFinite(usd) ? usd : null;
}

export function formatUsd(usd) {
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}
