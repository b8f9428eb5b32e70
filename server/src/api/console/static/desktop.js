// deskhand console: a machine's screen over the console's WebSocket, in
// the vendored noVNC (an ES module beside this one). No inline script
// (the pages' CSP forbids it).
//
// The socket: binary both ways is RFB (the VNC protocol); the server's
// text is JSON with `t`: {t:"open",session,ticket,host} once the user
// allowed the session, {t:"end",reason} and {t:"error",status,message}.
// noVNC is given a channel (below) that shows it the binary messages
// only: the text is read here, into the status line.
import RFB from "./novnc.js";

function say(el, text, kind) {
  if (!el) return;
  el.textContent = text;
  el.className = kind || "";
}

// What noVNC needs of a WebSocket (send, close, binaryType, on*,
// protocol, readyState), over the real one. It is handed to noVNC once
// the session is open; RFB bytes that came before noVNC listened are
// kept and given to it in order.
class Channel {
  constructor(ws) {
    this._ws = ws;
    this._queue = [];
    this._onmessage = null;
    this.binaryType = "arraybuffer";
    this.protocol = "";
    this.onopen = null;
    this.onclose = null;
    this.onerror = null;
  }

  get readyState() { return this._ws.readyState; }

  get onmessage() { return this._onmessage; }

  set onmessage(f) {
    this._onmessage = f;
    // After noVNC's attach has run to its end: it reads the first bytes
    // only once it took the socket as open.
    if (f && this._queue.length) setTimeout(() => this._flush(), 0);
  }

  send(data) { this._ws.send(data); }

  close() { this._ws.close(); }

  // An RFB message from the server.
  rfb(data) {
    this._queue.push(data);
    if (this._onmessage && this._queue.length === 1) this._flush();
  }

  _flush() {
    while (this._onmessage && this._queue.length) {
      const data = this._queue.shift();
      this._onmessage({ data: data });
    }
  }

  closed(ev) { if (this.onclose) this.onclose(ev); }

  failed(ev) { if (this.onerror) this.onerror(ev); }
}

function desktop(el) {
  const status = document.getElementById("desk-status");
  const control = el.dataset.control === "true";
  const how = control ? "control" : "view only";
  const url = new URL(el.dataset.ws, window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url.toString());
  ws.binaryType = "arraybuffer";
  const channel = new Channel(ws);
  let rfb = null;
  let ended = false;

  ws.onopen = function () {
    say(status, "Waiting for the user to allow the session on " + el.dataset.host + "...", "");
  };
  ws.onmessage = function (ev) {
    if (typeof ev.data !== "string") {
      channel.rfb(ev.data);
      return;
    }
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m.t === "open") {
      el.dataset.session = m.session;
      say(status, "The user allowed it; starting the screen...", "");
      rfb = new RFB(el, channel, { shared: true });
      rfb.viewOnly = !control;
      rfb.scaleViewport = true;
      rfb.focusOnClick = control;
      rfb.addEventListener("connect", function () {
        el.dataset.connected = "1";
        say(status, "Connected (" + how + ") to " + m.host + ", session " + m.session +
          (m.ticket ? " for ticket " + m.ticket : "") + ".", "online");
        if (control) rfb.focus();
      });
      rfb.addEventListener("disconnect", function (e) {
        if (!ended) {
          ended = true;
          say(status, e.detail.clean ? "Session ended: the connection closed."
            : "Session ended: the screen's connection was lost.", "muted");
        }
      });
      rfb.addEventListener("securityfailure", function (e) {
        ended = true;
        say(status, "Refused by the machine's screen: " + (e.detail.reason || e.detail.status), "error");
      });
      window.deskhandDesktop = rfb;
    } else if (m.t === "end") {
      ended = true;
      say(status, "Session ended: " + m.reason, "muted");
    } else if (m.t === "error") {
      ended = true;
      say(status, "Refused (" + m.status + "): " + m.message, "error");
    }
  };
  ws.onclose = function (ev) {
    el.dataset.closed = "1";
    if (!ended && !rfb) {
      ended = true;
      say(status, "Session ended: the connection closed.", "muted");
    }
    channel.closed(ev);
  };
  ws.onerror = function (ev) { channel.failed(ev); };

  const end = document.getElementById("desk-end");
  if (end) {
    end.addEventListener("click", function () {
      if (rfb) rfb.disconnect();
      else ws.close();
    });
  }
}

// A blocked style or script would show only in the browser's console:
// kept where a test can read it.
window.deskhandCspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.deskhandCspViolations.push(e.violatedDirective + " " + e.blockedURI);
});

const el = document.getElementById("desktop");
if (el) desktop(el);
