// The live feed: one websocket to /ws/console, following the protocol of command_center/console.py.
//   server → {"type":"snapshot","seq":S,"incidents":[…]}   once on connect and after a resync
//   server → {"type":"delta","seq":N,"kind":"incident","incident":{…}}   N strictly increasing
//   client → {"type":"ping"} (answered {"type":"pong"}), {"type":"resync"}
// A gap in seq means a delta was lost: we ask for a fresh snapshot rather than guess.

const PING_EVERY_MS = 20_000;
// No frame at all for this long (pongs included) means the connection is dead even if the
// browser has not noticed yet (a NAT or proxy dropped it): reconnect.
const SILENCE_LIMIT_MS = 2 * PING_EVERY_MS + 5_000;
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

export class LiveFeed extends EventTarget {
  // getToken is called on every (re)connect so that a fresh sign-in is picked up.
  constructor({ getToken, checkToken }) {
    super();
    this.getToken = getToken;
    this.checkToken = checkToken;
    this.socket = null;
    this.seq = null;
    this.state = 'idle';
    this.attempt = 0;
    this.timers = { ping: null, retry: null, silence: null };
    this.stopped = true;
    this.awaitingSnapshot = false;
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.#connect();
  }

  stop() {
    this.stopped = true;
    this.#clearTimers();
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000, 'signed out');
    }
    this.#setState('idle');
  }

  resync() {
    if (this.awaitingSnapshot) return;
    this.awaitingSnapshot = true;
    this.#send({ type: 'resync' });
  }

  #connect() {
    const token = this.getToken();
    if (!token) {
      this.#setState('closed');
      this.dispatchEvent(new Event('unauthorized'));
      return;
    }
    this.#setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/ws/console?token=${encodeURIComponent(token)}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    let opened = false;
    socket.addEventListener('open', () => {
      if (socket !== this.socket) return;
      opened = true;
      this.seq = null;
      this.awaitingSnapshot = true; // the server sends one unasked on connect
      this.timers.ping = setInterval(() => this.#send({ type: 'ping' }), PING_EVERY_MS);
      this.#armSilence();
    });
    socket.addEventListener('message', (event) => {
      if (socket !== this.socket) return;
      this.#armSilence();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // not ours to interpret; the next snapshot repairs any state
      }
      this.#handle(message);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.#clearTimers();
      if (this.stopped) return;
      this.#afterClose(opened, event.code);
    });
    // 'error' is always followed by 'close', where the reconnect is decided.
  }

  async #afterClose(opened, code) {
    // A refused handshake (bad or expired token) closes before open; so does a server restart.
    // Only the REST API can tell the two apart.
    if (!opened || code === 1008) {
      const accepted = await this.checkToken();
      if (this.stopped) return;
      if (!accepted) {
        this.#setState('closed');
        this.dispatchEvent(new Event('unauthorized'));
        return;
      }
    }
    // 1013 = "too slow, reconnect": come back at once to a fresh snapshot.
    const delay = code === 1013 ? 0 : this.#backoff();
    this.attempt += 1;
    this.#setState('reconnecting');
    this.timers.retry = setTimeout(() => this.#connect(), delay);
  }

  // Capped exponential backoff with jitter, so that a room full of consoles does not reconnect
  // in lock-step after a server restart.
  #backoff() {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  #handle(message) {
    if (message.type === 'snapshot') {
      this.seq = Number(message.seq);
      this.awaitingSnapshot = false;
      this.attempt = 0;
      this.#setState('open');
      this.dispatchEvent(new CustomEvent('snapshot', { detail: message }));
    } else if (message.type === 'delta') {
      if (this.awaitingSnapshot || this.seq === null) return; // the snapshot will include it
      const seq = Number(message.seq);
      if (seq <= this.seq) return; // already covered
      if (seq !== this.seq + 1) {
        console.info(`console feed: seq gap ${this.seq} → ${seq}; asking for a snapshot`);
        this.resync();
        return;
      }
      this.seq = seq;
      this.dispatchEvent(new CustomEvent('delta', { detail: message }));
    }
    // pong: nothing to do beyond re-arming the silence timer.
  }

  #send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  #armSilence() {
    clearTimeout(this.timers.silence);
    this.timers.silence = setTimeout(() => {
      if (this.socket) this.socket.close(4000, 'silent too long');
    }, SILENCE_LIMIT_MS);
  }

  #clearTimers() {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.retry);
    clearTimeout(this.timers.silence);
  }

  #setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }
}
