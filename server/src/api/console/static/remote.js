// deskhand console: a machine's terminal over the console's WebSocket,
// and a terminal recording (asciicast v2) played back. Both on the
// vendored xterm.js; no inline script (the pages' CSP forbids it).
//
// The socket: binary both ways is the terminal's bytes; text is JSON
// with `t`: the page sends {t:"resize",cols,rows}; the server sends
// {t:"open",session,ticket,host}, {t:"exit",code,signal},
// {t:"end",reason} and {t:"error",status,message}.
(function () {
  "use strict";

  function say(el, text, kind) {
    if (!el) return;
    el.textContent = text;
    el.className = kind || "";
  }

  function terminal(el) {
    var status = document.getElementById("term-status");
    var term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000 });
    var fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    window.deskhandTerminal = term;

    var url = new URL(el.dataset.ws, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("cols", term.cols);
    url.searchParams.set("rows", term.rows);
    var ws = new WebSocket(url.toString());
    ws.binaryType = "arraybuffer";
    var encoder = new TextEncoder();
    var open = false;
    var ended = false;

    ws.onmessage = function (ev) {
      if (typeof ev.data !== "string") {
        term.write(new Uint8Array(ev.data));
        return;
      }
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.t === "open") {
        open = true;
        el.dataset.session = m.session;
        say(status, "Connected to " + m.host + ", session " + m.session +
          (m.ticket ? " for ticket " + m.ticket : "") + ".", "online");
        term.focus();
      } else if (m.t === "exit") {
        var how = m.code !== null && m.code !== undefined ? "exited with code " + m.code
          : "was ended by signal " + m.signal;
        say(status, "The shell " + how + ".", "muted");
      } else if (m.t === "end") {
        ended = true;
        say(status, "Session ended: " + m.reason, "muted");
      } else if (m.t === "error") {
        ended = true;
        say(status, "Refused (" + m.status + "): " + m.message, "error");
      }
    };
    ws.onclose = function () {
      open = false;
      el.dataset.closed = "1";
      if (!ended) say(status, "Session ended: the connection closed.", "muted");
      term.options.disableStdin = true;
    };
    term.onData(function (d) {
      if (open) ws.send(encoder.encode(d));
    });
    term.onBinary(function (d) {
      if (!open) return;
      var bytes = new Uint8Array(d.length);
      for (var i = 0; i < d.length; i++) bytes[i] = d.charCodeAt(i) & 255;
      ws.send(bytes);
    });
    term.onResize(function (size) {
      if (open) ws.send(JSON.stringify({ t: "resize", cols: size.cols, rows: size.rows }));
    });
    window.addEventListener("resize", function () { fit.fit(); });
    var end = document.getElementById("term-end");
    if (end) end.addEventListener("click", function () { ws.close(); });
  }

  // An asciicast v2 file: a header line, then [seconds, code, data] lines.
  function parseCast(text) {
    var lines = text.split("\n").filter(function (l) { return l.trim() !== ""; });
    var header = JSON.parse(lines[0]);
    var events = [];
    for (var i = 1; i < lines.length; i++) {
      try {
        var e = JSON.parse(lines[i]);
        if (Array.isArray(e) && e.length >= 3) events.push(e);
      } catch (err) { /* a torn last line: what came before still plays */ }
    }
    return { header: header, events: events };
  }

  function player(el) {
    var status = document.getElementById("play-status");
    var speedEl = document.getElementById("play-speed");
    var cast = null;
    var term = null;
    var timer = null;
    var idleCap = 2; // seconds: long pauses are shortened, as asciinema does

    function reset() {
      if (timer) clearTimeout(timer);
      timer = null;
      if (term) term.dispose();
      term = new Terminal({ cols: cast.header.width || 80, rows: cast.header.height || 24, disableStdin: true });
      term.open(el);
      window.deskhandPlayer = term;
    }

    function apply(e) {
      if (e[1] === "o") term.write(e[2]);
      else if (e[1] === "r") {
        var m = /^(\d+)x(\d+)$/.exec(e[2]);
        if (m) term.resize(parseInt(m[1], 10), parseInt(m[2], 10));
      }
    }

    function play() {
      reset();
      var speed = parseFloat(speedEl ? speedEl.value : "1") || 1;
      var i = 0;
      say(status, "Playing...", "");
      function step() {
        if (i >= cast.events.length) {
          el.dataset.done = "1";
          say(status, "Played " + cast.events.length + " events.", "muted");
          return;
        }
        var e = cast.events[i++];
        apply(e);
        var next = cast.events[i];
        var wait = next ? Math.min(next[0] - e[0], idleCap) : 0;
        timer = setTimeout(step, Math.max(0, wait * 1000 / speed));
      }
      step();
    }

    function all() {
      reset();
      cast.events.forEach(apply);
      el.dataset.done = "1";
      say(status, "Showing all " + cast.events.length + " events.", "muted");
    }

    fetch(el.dataset.cast, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("the recording could not be read (" + r.status + ")");
        return r.text();
      })
      .then(function (text) {
        cast = parseCast(text);
        el.dataset.loaded = "1";
        say(status, "Recording of " + cast.events.length + " events, " +
          (cast.header.title || "") + ". Press Play.", "muted");
        document.getElementById("play-start").addEventListener("click", play);
        document.getElementById("play-all").addEventListener("click", all);
      })
      .catch(function (e) { say(status, e.message, "error"); });
  }

  var t = document.getElementById("terminal");
  if (t) terminal(t);
  var p = document.getElementById("player");
  if (p) player(p);
})();
