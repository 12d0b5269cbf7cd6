/* Web chat widget of the Sociaal Wijkteam: one script tag, no outside files.
 *
 *   <script src="https://<triage-server>/chat/widget.js" defer></script>
 *   data-open="true"  opens the chat at once (the demo page /chat does this)
 *
 * Talks to the server that serves this file over the WebSocket /chat/ws:
 * sends {"type": "message", "text": ...}; receives {"type": "message", "text"},
 * {"type": "session"}, {"type": "history"}, {"type": "done"}; an answer that a
 * staff member wrote comes as {"type": "message", "from": "medewerker"} (in
 * the history: role "medewerker") and is shown labelled "Medewerker
 * wijkteam"; when the chat is closed the button says a message came. The session
 * token is kept in sessionStorage, so a reload or a server restart resumes
 * the conversation (?session=<token>). Keyboard: Enter sends, Shift+Enter is a
 * new line, Escape closes the chat. Messages are shown as text, never as HTML.
 */
(function () {
  "use strict";
  if (window.__swtChat) { return; }
  window.__swtChat = true;

  var script = document.currentScript;
  var base = new URL(script && script.src ? script.src : "/chat/widget.js", window.location.href);
  var wsUrl = (base.protocol === "https:" ? "wss:" : "ws:") + "//" + base.host + "/chat/ws";
  var KEY = "swt-chat-sessie";
  var startOpen = !!(script && script.getAttribute("data-open") === "true");

  var css = [
    ".swt-chat{position:fixed;right:1rem;bottom:1rem;z-index:2147483000;font:16px/1.4 system-ui,sans-serif;color:#1a1a1a}",
    ".swt-chat button{font:inherit;cursor:pointer}",
    ".swt-chat-toggle{background:#00557a;color:#fff;border:0;border-radius:2rem;padding:.7rem 1.2rem;box-shadow:0 2px 6px rgba(0,0,0,.3)}",
    ".swt-chat-toggle:focus-visible,.swt-chat button:focus-visible,.swt-chat textarea:focus-visible,.swt-chat-log:focus-visible{outline:3px solid #f9b000;outline-offset:2px}",
    ".swt-chat-panel{width:min(24rem,calc(100vw - 2rem));height:min(34rem,calc(100vh - 2rem));display:flex;flex-direction:column;background:#fff;border:1px solid #8a8a8a;border-radius:.5rem;box-shadow:0 4px 16px rgba(0,0,0,.3)}",
    ".swt-chat-panel[hidden]{display:none}",
    ".swt-chat-head{display:flex;justify-content:space-between;align-items:center;background:#00557a;color:#fff;padding:.5rem .8rem;border-radius:.5rem .5rem 0 0}",
    ".swt-chat-head h2{font-size:1rem;margin:0}",
    ".swt-chat-close{background:transparent;color:#fff;border:0;font-size:1.4rem;line-height:1}",
    ".swt-chat-log{flex:1;overflow-y:auto;padding:.6rem;display:flex;flex-direction:column;gap:.4rem}",
    ".swt-chat-msg{white-space:pre-wrap;padding:.5rem .7rem;border-radius:.6rem;max-width:85%;overflow-wrap:anywhere}",
    ".swt-chat-msg.assistent{background:#eef3f6;align-self:flex-start}",
    ".swt-chat-msg.inwoner{background:#00557a;color:#fff;align-self:flex-end}",
    ".swt-chat-msg.medewerker{background:#fff4d6;border-left:4px solid #b07d00;align-self:flex-start}",
    ".swt-chat-from{display:block;font-weight:bold;font-size:.85rem;margin-bottom:.2rem}",
    ".swt-chat-status{min-height:1.2em;margin:0 .8rem;font-size:.85rem;color:#555}",
    ".swt-chat-form{display:flex;flex-wrap:wrap;gap:.4rem;padding:.6rem;border-top:1px solid #ddd}",
    ".swt-chat-form label{width:100%;font-size:.85rem}",
    ".swt-chat-form textarea{flex:1;resize:none;font:inherit;padding:.4rem;border:1px solid #8a8a8a;border-radius:.3rem}",
    ".swt-chat-send{background:#00557a;color:#fff;border:0;border-radius:.3rem;padding:0 1rem}"
  ].join("\n");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) { e.textContent = text; }
    return e;
  }

  var style = el("style", {}, css);
  var root = el("div", { "class": "swt-chat" });
  var toggle = el("button", { type: "button", "class": "swt-chat-toggle", "aria-expanded": "false",
                              "aria-controls": "swt-chat-panel" }, "Chat met het wijkteam");
  var panel = el("section", { id: "swt-chat-panel", "class": "swt-chat-panel", role: "dialog",
                              "aria-label": "Chat met het Sociaal Wijkteam", hidden: "" });
  var head = el("div", { "class": "swt-chat-head" });
  head.appendChild(el("h2", {}, "Chat met het Sociaal Wijkteam"));
  var close = el("button", { type: "button", "class": "swt-chat-close", "aria-label": "Chat sluiten" }, "\u00d7");
  head.appendChild(close);
  var log = el("div", { "class": "swt-chat-log", role: "log", "aria-live": "polite", "aria-label": "Gesprek",
                        tabindex: "0" });
  var status = el("p", { "class": "swt-chat-status", "aria-live": "polite" });
  var form = el("form", { "class": "swt-chat-form" });
  var label = el("label", { "for": "swt-chat-input" }, "Uw bericht");
  var input = el("textarea", { id: "swt-chat-input", rows: "2", maxlength: "4000", autocomplete: "off",
                               "aria-describedby": "swt-chat-hint" });
  var hint = el("span", { id: "swt-chat-hint", hidden: "" }, "Enter verstuurt, Shift en Enter geeft een nieuwe regel, Escape sluit de chat.");
  var send = el("button", { type: "submit", "class": "swt-chat-send" }, "Verstuur");
  form.appendChild(label); form.appendChild(input); form.appendChild(send); form.appendChild(hint);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(status); panel.appendChild(form);
  root.appendChild(panel); root.appendChild(toggle);

  var ws = null, queue = [], retry = 0, opened = false;

  function add(role, text) {
    var m = el("div", { "class": "swt-chat-msg " + role });
    if (role === "medewerker") { m.appendChild(el("span", { "class": "swt-chat-from" }, "Medewerker wijkteam")); }
    m.appendChild(document.createTextNode(text || ""));
    log.appendChild(m);
    log.scrollTop = log.scrollHeight;
  }

  function roleOf(name) {
    return name === "inwoner" || name === "medewerker" ? name : "assistent";
  }

  function session() {
    try { return window.sessionStorage.getItem(KEY); } catch (e) { return null; }
  }

  function connect() {
    var s = session();
    ws = new WebSocket(wsUrl + (s ? "?session=" + encodeURIComponent(s) : ""));
    status.textContent = "Verbinden\u2026";
    ws.onopen = function () {
      retry = 0;
      status.textContent = "";
      while (queue.length) { ws.send(queue.shift()); }
    };
    ws.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (data.type === "session") {
        try { window.sessionStorage.setItem(KEY, data.session); } catch (e) { /* private mode */ }
      } else if (data.type === "history") {
        log.textContent = "";
        (data.messages || []).forEach(function (m) { add(roleOf(m.role), m.text); });
      } else if (data.type === "message" && data.from === "medewerker") {
        add("medewerker", data.text);
        if (panel.hidden) { toggle.textContent = "Chat met het wijkteam: nieuw bericht"; }
      } else if (data.type === "message" || data.type === "error") {
        add("assistent", data.text);
      } else if (data.type === "done") {
        status.textContent = "";
      }
    };
    ws.onclose = function () {
      ws = null;
      retry = Math.min(retry + 1, 6);
      status.textContent = "Verbinding verbroken. Opnieuw verbinden\u2026";
      window.setTimeout(connect, 500 * retry);
    };
  }

  function show(open) {
    if (open) { toggle.textContent = "Chat met het wijkteam"; }
    panel.hidden = !open;
    toggle.hidden = open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      if (!opened) { opened = true; connect(); }
      input.focus();
    } else {
      toggle.focus();
    }
  }

  function submit() {
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    add("inwoner", text);
    status.textContent = "Even geduld\u2026";
    var frame = JSON.stringify({ type: "message", text: text });
    if (ws && ws.readyState === 1) { ws.send(frame); } else { queue.push(frame); }
  }

  toggle.addEventListener("click", function () { show(true); });
  close.addEventListener("click", function () { show(false); });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(); });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submit(); }
  });
  panel.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { show(false); } });

  function mount() {
    document.head.appendChild(style);
    document.body.appendChild(root);
    if (startOpen) { show(true); }
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
