// /ws/team with automatic reconnects: ?session=ID&after=SEQ brings back exactly what was missed.

export class TeamSocket {
  constructor({ onEvent, onState, onSent }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onSent = onSent;
    this.sessionId = sessionStorage.getItem("team.session") || null;
    this.lastSeq = Number(sessionStorage.getItem("team.lastSeq") || 0);
    this.queue = [];
    this.retry = 0;
    this.connect();
  }

  url() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams();
    if (this.sessionId) { params.set("session", this.sessionId); params.set("after", String(this.lastSeq)); }
    const token = new URLSearchParams(location.search).get("token");
    if (token) params.set("token", token);
    return `${proto}://${location.host}/ws/team${params.size ? "?" + params : ""}`;
  }

  connect() {
    this.onState("connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.onState("open");
      for (const message of this.queue.splice(0)) this.send(message);
    };
    ws.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "system" && event.data.event === "connected") {
        if (this.sessionId !== event.data.session_id) this.lastSeq = 0;
        this.sessionId = event.data.session_id;
        sessionStorage.setItem("team.session", this.sessionId);
      }
      if (event.seq != null) {
        if (event.seq <= this.lastSeq) return;
        this.lastSeq = event.seq;
        sessionStorage.setItem("team.lastSeq", String(this.lastSeq));
      }
      this.onEvent(event);
    };
    ws.onclose = () => {
      this.onState("closed");
      const delay = Math.min(500 * 2 ** this.retry++, 8000);
      setTimeout(() => this.connect(), delay);
    };
    ws.onerror = () => ws.close();
  }

  send(message) {
    if (this.ws?.readyState !== WebSocket.OPEN) { this.queue.push(message); return; }
    this.ws.send(JSON.stringify(message));
    this.onSent?.(message);
  }
}
