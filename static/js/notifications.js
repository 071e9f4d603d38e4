/* The bell menu, live: new notifications arrive over ws/notifications/, update the
 * unread badge and the list, and show a toast. Reconnects with backoff. No dependencies. */
(function () {
  "use strict";

  var menu = document.getElementById("notif-menu");
  if (!menu || !window.WebSocket) return;
  var MAX_ITEMS = 10;
  var TOAST_MS = 8000;
  var attempts = 0;
  var stopped = false;

  function $(id) { return document.getElementById(id); }

  function setCount(n) {
    var badge = $("notif-count");
    if (!badge || typeof n !== "number") return;
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.hidden = n <= 0;
    menu.querySelector("summary").setAttribute("aria-label", "Notifications" + (n > 0 ? " (" + n + " unread)" : ""));
  }

  function messageNode(note) {
    var node;
    if (note.link) {
      node = document.createElement("a");
      node.href = note.link;
    } else {
      node = document.createElement("span");
    }
    node.textContent = note.message || "";
    return node;
  }

  function addToList(note) {
    var list = $("notif-list");
    if (!list || list.querySelector('li[data-id="' + note.id + '"]')) return;
    var empty = $("notif-empty");
    if (empty) empty.remove();
    var li = document.createElement("li");
    li.className = "notif unread sev-" + (note.severity || "info");
    li.dataset.id = note.id;
    var dot = document.createElement("span");
    dot.className = "dot";
    dot.title = note.severity || "info";
    var body = document.createElement("div");
    var msg = document.createElement("span");
    msg.className = "msg";
    msg.appendChild(messageNode(note));
    var when = document.createElement("time");
    when.className = "when";
    when.setAttribute("datetime", new Date().toISOString());
    when.textContent = "just now";
    body.appendChild(msg);
    body.appendChild(when);
    li.appendChild(dot);
    li.appendChild(body);
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_ITEMS) list.removeChild(list.lastChild);
  }

  function toast(note) {
    var area = $("toasts");
    if (!area) return;
    var box = document.createElement("div");
    box.className = "toast sev-" + (note.severity || "info");
    box.setAttribute("role", note.severity === "error" ? "alert" : "status");
    box.appendChild(messageNode(note));
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(close);
    area.appendChild(box);
    setTimeout(function () { box.remove(); }, TOAST_MS);
  }

  function connect() {
    if (stopped) return;
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + menu.dataset.ws);
    ws.onopen = function () { attempts = 0; };
    ws.onmessage = function (msg) {
      var data;
      try { data = JSON.parse(msg.data); } catch (e) { return; }
      if (data.type === "unread") setCount(data.count);
      else if (data.type === "notification") {
        addToList(data);
        setCount(data.unread);
        toast(data);
      } else if (data.type === "error") {
        stopped = true;
      }
    };
    ws.onclose = function (e) {
      if (stopped || e.code === 4401 || e.code === 4403) return;
      attempts += 1;
      if (attempts > 12) return;  // give up quietly: the page still works without it
      var delay = Math.min(60000, 1000 * Math.pow(2, attempts - 1)) * (0.75 + Math.random() * 0.5);
      setTimeout(connect, delay);
    };
  }

  // "just now", "3 min ago", ...: kept current while the page stays open.
  function relative(iso) {
    var seconds = (Date.now() - new Date(iso).getTime()) / 1000;
    if (isNaN(seconds)) return "";
    if (seconds < 60) return "just now";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min ago";
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " h ago";
    return Math.floor(hours / 24) + " d ago";
  }
  function refreshTimes() {
    var els = document.querySelectorAll("time.when[datetime]");
    for (var i = 0; i < els.length; i++) els[i].textContent = relative(els[i].getAttribute("datetime"));
  }
  refreshTimes();
  setInterval(refreshTimes, 30000);

  window.VMPersonaNotifications = { setCount: setCount };
  connect();
})();
