// Reconnect delays: quick at first, then slower, with jitter so many pages do not reconnect in step.
export class Backoff {
  constructor({ base = 500, max = 10000, factor = 2 } = {}) {
    Object.assign(this, { base, max, factor });
    this.attempt = 0;
  }
  next() {
    const delay = Math.min(this.max, this.base * this.factor ** this.attempt);
    this.attempt += 1;
    return Math.round(delay * (0.75 + Math.random() * 0.5));
  }
  reset() { this.attempt = 0; }
}
