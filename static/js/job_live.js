/* The job page, live: follows a job's events over a websocket and updates the page.
 *
 * The server renders the page with every event up to data-after; this script asks
 * ws/jobs/<id>/?after=<that seq> for the rest and applies each event once, in order
 * (events carry a per-job seq; anything at or below the last applied one is ignored).
 * When the socket drops it reconnects with backoff, resuming after the last seq it
 * applied. If websockets do not work at all it polls the events API instead.
 * A migrate job's "transfer" events (about one a second while disks and memory are
 * copied) update one progress line instead of the log; its Migration section is
 * fetched again, rendered by the server, whenever a step ends.
 * While the job is "watching", its health-watch panel follows the "health" events (one
 * per probe round) and "watch" events (someone confirmed or extended it), and counts down
 * to the watch's end (its Confirm asks first through data-confirm, static/js/confirm.js).
 * No dependencies.
 */
(function () {
  "use strict";

  var root = document.getElementById("job-live");
  if (!root) return;

  var TERMINAL = ["succeeded", "failed", "rolled_back", "cancelled", "errored", "expired",
    "skipped", "rejected"];
  var LABELS = {
    scheduled: "Scheduled", queued: "Queued", running: "Running", verifying: "Verifying", watching: "Watching health",
    succeeded: "Succeeded",
    failed: "Failed", rolling_back: "Rolling back", rolled_back: "Rolled back",
    cancelled: "Cancelled", errored: "Errored", skipped: "Skipped", expired: "Expired",
    rejected: "Rejected"
  };
  var NO_RETRY_CODES = [4401, 4403, 4404];
  var POLL_MS = 2000;

  var lastSeq = parseInt(root.dataset.after, 10) || 0;
  var status = root.dataset.status;
  var isMigrate = root.dataset.kind === "migrate";
  var startedAt = root.dataset.started ? new Date(root.dataset.started) : null;
  var finishedAt = root.dataset.finished ? new Date(root.dataset.finished) : null;
  var watchUntilEl = document.getElementById("watch-until");
  var watchUntil = watchUntilEl && watchUntilEl.getAttribute("datetime")
    ? new Date(watchUntilEl.getAttribute("datetime")) : null;
  var socket = null;
  var attempts = 0;
  var everOpened = false;
  var stopped = false;
  var mode = "ws";
  var retryTimer = null;

  function $(id) { return document.getElementById(id); }
  function isTerminal(s) { return TERMINAL.indexOf(s) !== -1; }

  // --- formatting ---------------------------------------------------------------------
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function fmtTime(value, withDate) {
    var d = value instanceof Date ? value : new Date(value);
    if (isNaN(d.getTime())) return "";
    var t = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    if (!withDate) return t;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + t;
  }
  // Durations as vmpersona.units.duration_text writes them: 850 ms, 11.4 s, 2 min 5 s,
  // 1 h 5 min, 2 days 3 h; "whole" (a countdown) without tenths or milliseconds.
  function fmtDuration(seconds, whole) {
    if (typeof seconds !== "number" || isNaN(seconds)) return "—";
    seconds = Math.max(0, seconds);
    if (whole) seconds = Math.floor(seconds);
    else if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (Math.round(seconds * 10) / 10 < 60) return whole ? seconds + " s" : seconds.toFixed(1) + " s";
    var total = Math.round(seconds);
    var m = Math.floor(total / 60), s = total % 60;
    if (m < 60) return m + " min" + (s ? " " + s + " s" : "");
    var h = Math.floor(m / 60); m = m % 60;
    if (h < 24) return h + " h" + (m ? " " + m + " min" : "");
    var d = Math.floor(h / 24); h = h % 24;
    return d + (d === 1 ? " day" : " days") + (h ? " " + h + " h" : "");
  }
  // Bytes in IEC units, as presentation.formatting.size_text writes them.
  function fmtSize(value) {
    if (typeof value !== "number" || isNaN(value)) return "—";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(value) < 1024 || i === units.length - 1) {
        return (i === 0 ? value.toFixed(0) : value.toFixed(1)) + " " + units[i];
      }
      value /= 1024;
    }
    return "—";
  }
  function timeEl(iso, withDate) {
    var el = document.createElement("time");
    el.className = "js-time";
    if (withDate) el.dataset.format = "datetime";
    el.setAttribute("datetime", iso || "");
    el.textContent = iso ? fmtTime(iso, withDate) : "";
    return el;
  }
  function localizeTimes(scope) {
    var els = (scope || document).querySelectorAll("time.js-time");
    for (var i = 0; i < els.length; i++) {
      var iso = els[i].getAttribute("datetime");
      if (iso) els[i].textContent = fmtTime(iso, els[i].dataset.format === "datetime");
    }
  }
  function badge(value, label) {
    var span = document.createElement("span");
    span.className = "jb jb-" + value;
    span.dataset.status = value;
    span.textContent = label || LABELS[value] || value;
    return span;
  }
  function setChild(el, child) {
    if (!el) return;
    el.textContent = "";
    if (child) el.appendChild(child);
  }

  // --- connection state -------------------------------------------------------------------
  function setLive(kind, text) {
    var el = $("live-state");
    if (!el) return;
    el.className = "live-state" + (kind ? " " + kind : "");
    el.textContent = text;
  }

  // --- header, progress, status ---------------------------------------------------------------
  function setProgress(value) {
    if (typeof value !== "number") return;
    var bar = $("job-progress");
    if (bar) {
      bar.setAttribute("aria-valuenow", value);
      bar.firstElementChild.style.width = value + "%";
    }
    var text = $("job-progress-text");
    if (text) text.textContent = value + "%";
  }
  function paintProgress() {
    var bar = $("job-progress");
    if (!bar) return;
    bar.classList.remove("done", "bad", "warn");
    if (status === "succeeded") bar.classList.add("done");
    else if (status === "failed" || status === "errored") bar.classList.add("bad");
    else if (status === "rolled_back" || status === "rolling_back" || status === "cancelled") bar.classList.add("warn");
  }
  function setStatus(value) {
    if (!value) return;
    status = value;
    root.dataset.status = value;
    setChild($("job-status"), badge(value));
    setChild($("side-status"), badge(value));
    paintProgress();
    var watch = $("watch");
    if (watch) watch.hidden = value !== "watching";
    if (isTerminal(value)) {
      var form = $("job-cancel-form");
      if (form) form.hidden = true;
      var cancelling = $("job-cancelling");
      if (cancelling) cancelling.hidden = true;
      var step = $("job-current-step");
      if (step) step.textContent = "—";
    }
  }
  function setTimes() {
    if (startedAt) setChild($("job-started"), timeEl(startedAt.toISOString(), true));
    if (finishedAt) setChild($("job-finished"), timeEl(finishedAt.toISOString(), true));
    tick();
  }
  function tick() {
    var el = $("job-duration");
    if (!el || !startedAt) return;
    var end = finishedAt || new Date();
    el.textContent = fmtDuration(Math.max(0, (end - startedAt) / 1000));
  }
  setInterval(function () {
    if (startedAt && !finishedAt) tick();
    if (status === "watching") watchTick();
  }, 1000);

  // The status event does not carry the error text or times: read them from the API.
  function refreshJob() {
    var url = root.dataset.jobUrl;
    if (!url || !window.fetch) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) return;
        if (job.started_at) startedAt = new Date(job.started_at);
        if (job.finished_at) finishedAt = new Date(job.finished_at);
        setTimes();
        if (job.watch_until) setWatchUntil(job.watch_until);
        var box = $("job-error");
        if (box) {
          box.hidden = !job.error;
          // A cancel is what someone asked for: a warning, not an error.
          box.classList.toggle("alert-warning", job.status === "cancelled");
          box.classList.toggle("alert-error", job.status !== "cancelled");
          var title = $("job-error-title");
          if (title) title.textContent = LABELS[job.status] || "Failed";
          $("job-error-text").textContent = job.error || "";
          var fc = $("job-failing-check");
          fc.hidden = !job.failing_check;
          $("job-failing-check-text").textContent = job.failing_check || "";
        }
        if (job.status && job.status !== status && isTerminal(job.status)) setStatus(job.status);
      })
      .catch(function () { /* the page still shows the events */ });
  }

  // --- steps ------------------------------------------------------------------------------------
  function stepRow(index) {
    var table = $("steps-table");
    var body = table.tBodies[0];
    var row = body.querySelector('tr[data-index="' + index + '"]');
    if (row) return row;
    row = $("tpl-step").content.firstElementChild.cloneNode(true);
    row.dataset.index = index;
    row.cells[0].textContent = index + 1;
    var before = null;
    for (var i = 0; i < body.rows.length; i++) {
      if (parseInt(body.rows[i].dataset.index, 10) > index) { before = body.rows[i]; break; }
    }
    body.insertBefore(row, before);
    $("steps-empty").hidden = true;
    $("steps-count").textContent = body.rows.length;
    return row;
  }
  function stepStarted(p, at) {
    var row = stepRow(p.index);
    row.className = "st-running";
    row.querySelector(".step-name code").textContent = p.step || "";
    var title = row.querySelector(".step-title");
    title.textContent = p.title || "";
    title.hidden = !p.title;
    setChild(row.querySelector(".step-status"), badge("running"));
    setChild(row.querySelector(".step-started"), timeEl(at, false));
    row.querySelector(".step-duration").textContent = "…";
    var current = $("job-current-step");
    if (current && p.step) current.textContent = p.step;
  }
  function stepFinished(p) {
    var row = stepRow(p.index);
    row.className = "st-" + p.status;
    if (p.step) row.querySelector(".step-name code").textContent = p.step;
    setChild(row.querySelector(".step-status"), badge(p.status));
    row.querySelector(".step-duration").textContent = fmtDuration(p.duration_s);
    var cell = row.querySelector(".step-output");
    cell.textContent = "";
    if (p.output) {
      var details = document.createElement("details");
      var summary = document.createElement("summary");
      summary.textContent = "output";
      var pre = document.createElement("pre");
      pre.textContent = p.output;
      details.appendChild(summary);
      details.appendChild(pre);
      if (p.status === "failed") details.open = true;
      cell.appendChild(details);
    }
  }

  // --- log ----------------------------------------------------------------------------------------
  function logLine(ev) {
    var box = $("job-log");
    if (!box || box.querySelector('.ln[data-seq="' + ev.seq + '"]')) return;
    var p = ev.payload || {};
    var level = "info", step = "", text = "";
    if (ev.kind === "status") {
      level = "status";
      text = "status → " + (p.status || "") + (p.reason && p.reason !== p.status ? " (" + p.reason + ")" : "");
    } else if (ev.kind === "cancel_requested") {
      level = "warning";
      text = "cancel requested" + (p.by ? " by " + p.by : "");
    } else if (ev.kind === "watch") {
      level = "status";
      text = watchText(p);
    } else {
      level = p.level || "info";
      step = p.step || "";
      text = p.message === undefined ? "" : String(p.message);
    }
    var line = document.createElement("div");
    line.className = "ln lv-" + level;
    line.dataset.seq = ev.seq;
    var t = document.createElement("span"); t.className = "t"; t.appendChild(timeEl(ev.at, false));
    var lv = document.createElement("span"); lv.className = "lv"; lv.textContent = level;
    var m = document.createElement("span"); m.className = "m";
    if (step) { var st = document.createElement("span"); st.className = "st"; st.textContent = step; m.appendChild(st); }
    m.appendChild(document.createTextNode(text));
    line.appendChild(t); line.appendChild(lv); line.appendChild(m);
    var empty = $("log-empty");
    if (empty) empty.hidden = true;
    box.insertBefore(line, empty);
    var follow = $("log-follow");
    if (!follow || follow.checked) box.scrollTop = box.scrollHeight;
  }

  // --- migration: the transfer line and the Migration section ------------------------------------
  // Formats a transfer event as presentation.migration.transfer_view does.
  function transfer(p) {
    var box = $("job-transfer");
    if (!box || isTerminal(status)) return;
    var done = p.done_bytes, total = p.total_bytes;
    var text = "transferred " + fmtSize(done);
    if (typeof total === "number" && total) text += " of " + fmtSize(total);
    if (p.what) text += " (" + p.what + ")";
    var parts = [];
    if (p.memory_bytes !== undefined && p.memory_bytes !== null) parts.push("memory " + fmtSize(p.memory_bytes));
    if (p.disk_bytes !== undefined && p.disk_bytes !== null) parts.push("disk " + fmtSize(p.disk_bytes));
    $("job-transfer-text").textContent = text;
    $("job-transfer-detail").textContent = parts.join(" · ");
    var bar = $("job-transfer-bar");
    if (typeof done === "number" && typeof total === "number" && total > 0) {
      var pct = Math.max(0, Math.min(100, Math.floor(100 * done / total)));
      bar.classList.remove("indeterminate");
      bar.setAttribute("aria-valuenow", pct);
      bar.firstElementChild.style.width = pct + "%";
    } else {
      bar.classList.add("indeterminate");
      bar.removeAttribute("aria-valuenow");
    }
    box.dataset.step = p.step || "";
    box.hidden = false;
  }
  function transferEnded(step) {
    var box = $("job-transfer");
    if (box && (step === undefined || box.dataset.step === step)) box.hidden = true;
  }

  var migrationLoading = false;
  var migrationAgain = false;
  function refreshMigration() {
    var section = $("migration");
    if (!section || !section.dataset.url || !window.fetch) return;
    if (migrationLoading) { migrationAgain = true; return; }
    migrationLoading = true;
    fetch(section.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var current = $("migration");
        if (!html || !current) return;
        var tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        var fresh = tpl.content.querySelector("#migration");
        if (!fresh) return;
        // Keep open what was opened.
        ["details.mig-details", "details.mig-diff"].forEach(function (sel) {
          var was = current.querySelector(sel), now = fresh.querySelector(sel);
          if (was && now && was.open) now.open = true;
        });
        current.parentNode.replaceChild(fresh, current);
      })
      .catch(function () { /* the next step or a reload shows it */ })
      .then(function () {
        migrationLoading = false;
        if (migrationAgain) { migrationAgain = false; refreshMigration(); }
      });
  }

  // --- verification --------------------------------------------------------------------------------
  function check(p) {
    var table = $("checks-table");
    if (!table) return;  // a job of a kind that does not verify shows no Verification section
    var body = table.tBodies[0];
    var row = body.querySelector('tr[data-index="' + p.index + '"]');
    if (!row) {
      row = $("tpl-check").content.firstElementChild.cloneNode(true);
      row.dataset.index = p.index;
      var before = null;
      for (var i = 0; i < body.rows.length; i++) {
        if (parseInt(body.rows[i].dataset.index, 10) > p.index) { before = body.rows[i]; break; }
      }
      body.insertBefore(row, before);
    }
    row.className = p.passed ? "pass" : "fail";
    row.cells[0].textContent = p.index + 1;
    row.querySelector(".c-section").textContent = p.section || "";
    var pointer = row.querySelector(".pointer");
    pointer.textContent = "";
    if (p.pointer) {
      var code = document.createElement("code"); code.textContent = p.pointer; pointer.appendChild(code);
    } else {
      var dash = document.createElement("span"); dash.className = "muted"; dash.textContent = "—"; pointer.appendChild(dash);
    }
    row.querySelector(".c-name span").textContent = p.name || "";
    var detail = [];
    if (p.source) detail.push("read from " + p.source);
    if (p.detail) detail.push(p.detail);
    row.querySelector(".c-name .detail").textContent = detail.join(" · ");
    row.querySelector(".c-expected").textContent = p.expected === undefined || p.expected === null ? "" : String(p.expected);
    row.querySelector(".c-actual").textContent = p.actual === undefined || p.actual === null ? "" : String(p.actual);
    var result = document.createElement("span");
    result.className = "jb " + (p.passed ? "jb-pass" : "jb-fail");
    result.textContent = p.passed ? "pass" : "FAIL";
    setChild(row.querySelector(".c-result"), result);
    countChecks();
  }
  function countChecks() {
    var rows = $("checks-table").tBodies[0].rows;
    var failed = 0;
    for (var i = 0; i < rows.length; i++) if (rows[i].classList.contains("fail")) failed++;
    $("checks-count").textContent = rows.length;
    var passed = $("checks-passed");
    passed.textContent = (rows.length - failed) + " passed";
    passed.hidden = rows.length === 0;
    var f = $("checks-failed");
    f.textContent = failed + " failed";
    f.hidden = failed === 0;
    $("checks-empty").hidden = rows.length > 0;
  }

  function result(p) {
    var dl = $("job-result");
    if (!dl) return;
    dl.textContent = "";
    Object.keys(p || {}).forEach(function (key) {
      var dt = document.createElement("dt"); dt.textContent = key;
      var dd = document.createElement("dd");
      var code = document.createElement("code");
      var v = p[key];
      code.textContent = typeof v === "object" ? JSON.stringify(v) : String(v);
      dd.appendChild(code);
      dl.appendChild(dt); dl.appendChild(dd);
    });
    $("result").hidden = dl.children.length === 0;
  }

  // --- health watch ------------------------------------------------------------------------------
  // Formats as presentation.jobs does (watch_text, health_text, remaining_text).
  function watchText(p) {
    var by = p.by ? " by " + p.by : "";
    if (p.action === "extend") {
      return "watch extended" + (p.minutes !== undefined && p.minutes !== null ? " by " + p.minutes + " min" : "") + by;
    }
    if (p.action === "confirm") return "watch confirmed" + by;
    return "watch " + (p.action || "changed") + by;
  }
  function healthText(p) {
    var checks = (p.checks || []).filter(function (c) { return c && typeof c === "object"; });
    var failed = (p.failed || []).map(String);
    var total = checks.length || failed.length;
    var passed = checks.filter(function (c) { return c.passed; }).length;
    var text = "health round " + (p.round === undefined ? "?" : p.round) + ": " + passed + "/" + total + " passed";
    if (failed.length) {
      text += "; failed: " + failed.join(", ");
      var streak = p.consecutive_failures;
      if (typeof streak === "number" && streak > 0) text += " (" + streak + " round" + (streak !== 1 ? "s" : "") + " in a row)";
    }
    return text;
  }
  function remainingText(seconds) {
    if (Math.floor(seconds) <= 0) return "ending now";
    return "in " + fmtDuration(seconds, true);
  }
  function setWatchUntil(iso) {
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) return;
    watchUntil = d;
    var el = $("watch-until");
    if (el) {
      el.setAttribute("datetime", d.toISOString());
      el.textContent = fmtTime(d, false);
    }
    watchTick();
  }
  function watchTick() {
    var el = $("watch-remaining");
    if (el && watchUntil) el.textContent = remainingText((watchUntil - new Date()) / 1000);
  }
  function healthRound(p) {
    if (p.until) setWatchUntil(p.until);
    var panel = $("watch");
    if (!panel) return;
    var state = $("watch-state");
    state.className = "jb " + (p.passed ? "jb-pass" : "jb-fail");
    state.textContent = p.passed ? "healthy" : "failing";
    state.hidden = false;
    var summary = healthText(p);
    $("watch-summary-text").textContent = summary.charAt(0).toUpperCase() + summary.slice(1);
    $("watch-summary").hidden = false;
    var table = $("watch-table");
    var body = table.tBodies[0];
    body.textContent = "";
    (p.checks || []).forEach(function (c) {
      if (!c || typeof c !== "object") return;
      var row = document.createElement("tr");
      row.className = c.passed ? "pass" : "fail";
      var name = document.createElement("td"); name.textContent = c.name || "";
      var pointer = document.createElement("td"); pointer.className = "pointer";
      if (c.pointer) {
        var code = document.createElement("code"); code.textContent = c.pointer; pointer.appendChild(code);
      } else {
        var dash = document.createElement("span"); dash.className = "muted"; dash.textContent = "—"; pointer.appendChild(dash);
      }
      var expected = document.createElement("td"); expected.className = "val";
      expected.textContent = c.expected === undefined || c.expected === null ? "" : String(c.expected);
      var actual = document.createElement("td"); actual.className = "val";
      actual.textContent = c.actual === undefined || c.actual === null ? "" : String(c.actual);
      var result = document.createElement("td");
      var mark = document.createElement("span");
      mark.className = "jb " + (c.passed ? "jb-pass" : "jb-fail");
      mark.textContent = c.passed ? "pass" : "FAIL";
      result.appendChild(mark);
      [name, pointer, expected, actual, result].forEach(function (td) { row.appendChild(td); });
      body.appendChild(row);
    });
    table.hidden = false;
    $("watch-empty").hidden = true;
  }

  // --- one event ---------------------------------------------------------------------------------
  function apply(ev) {
    if (typeof ev.seq !== "number" || ev.seq <= lastSeq) return;
    lastSeq = ev.seq;
    var seqEl = $("job-seq");
    if (seqEl) seqEl.textContent = lastSeq;
    var p = ev.payload || {};
    switch (ev.kind) {
      case "status":
        if (p.status === "running" && !startedAt) { startedAt = new Date(ev.at); setTimes(); }
        setStatus(p.status);
        setProgress(p.progress);
        logLine(ev);
        if (isTerminal(p.status)) { finishedAt = new Date(ev.at); setTimes(); }
        if (isTerminal(p.status) || p.status === "rolling_back" || p.status === "watching") refreshJob();
        if (isMigrate && isTerminal(p.status)) { transferEnded(); refreshMigration(); }
        break;
      case "progress":
        setProgress(p.progress);
        var current = $("job-current-step");
        if (current && !isTerminal(status)) current.textContent = p.step || "—";
        break;
      case "step_started": stepStarted(p, ev.at); break;
      case "step_finished":
        stepFinished(p);
        if (isMigrate) { transferEnded(p.step); refreshMigration(); }
        break;
      case "transfer": transfer(p); break;  // the progress line only, never the log
      case "log": logLine(ev); break;
      case "cancel_requested":
        var tag = $("job-cancelling");
        if (tag && !isTerminal(status)) tag.hidden = false;
        var button = document.querySelector("#job-cancel-form button");
        if (button) button.disabled = true;
        logLine(ev);
        break;
      case "check": check(p); break;
      case "result": result(p); break;
      case "health": healthRound(p); break;  // the watch panel only, never the log
      case "watch":
        if (p.until) setWatchUntil(p.until);
        logLine(ev);
        break;
      default: break;
    }
  }

  // --- websocket with reconnect ---------------------------------------------------------------------
  function connect() {
    retryTimer = null;
    if (stopped || !window.WebSocket) { if (!window.WebSocket) startPolling(); return; }
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws;
    try {
      ws = new WebSocket(proto + "//" + location.host + root.dataset.ws + "?after=" + lastSeq);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    var refused = false;
    ws.onopen = function () {
      everOpened = true;
      attempts = 0;
      setLive("on", "live");
    };
    ws.onmessage = function (msg) {
      var data;
      try { data = JSON.parse(msg.data); } catch (e) { return; }
      if (data.type === "event") apply(data);
      else if (data.type === "caught_up") {
        if (data.status && data.status !== status) { setStatus(data.status); refreshJob(); }
        if (isTerminal(status)) {
          // Everything up to the end has arrived; nothing more will.
          stopped = true;
          setLive("", "finished");
          ws.close(1000);
        } else {
          setLive("on", "live");
        }
      } else if (data.type === "error") {
        refused = true;
        setLive("off", data.detail || "refused");
      }
    };
    ws.onclose = function (e) {
      if (socket === ws) socket = null;
      if (refused || NO_RETRY_CODES.indexOf(e.code) !== -1) { stopped = true; return; }
      if (stopped) return;
      if (isTerminal(status)) { setLive("", "finished"); return; }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    attempts += 1;
    // Never connected after a few tries: websockets do not get through; poll instead.
    if (!everOpened && attempts >= 3) { startPolling(); return; }
    var delay = Math.min(30000, 1000 * Math.pow(2, attempts - 1)) * (0.75 + Math.random() * 0.5);
    setLive("off", "reconnecting in " + Math.round(delay / 1000) + "s");
    retryTimer = setTimeout(connect, delay);
  }

  // --- polling fallback --------------------------------------------------------------------------------
  function startPolling() {
    if (mode === "poll") return;
    mode = "poll";
    setLive("poll", "polling");
    poll();
  }
  function poll() {
    if (stopped) return;
    var url = root.dataset.eventsUrl + "?after=" + lastSeq + "&limit=500";
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 403 || r.status === 404 || r.status === 401) { stopped = true; setLive("off", "not allowed"); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) {
        if (stopped) return;
        if (data) {
          (data.events || []).forEach(apply);
          if (data.status && data.status !== status && isTerminal(data.status) && !data.more) setStatus(data.status);
          if (data.more) { poll(); return; }
          if (isTerminal(data.status)) { setLive("", "finished"); return; }
        }
        setTimeout(poll, POLL_MS);
      })
      .catch(function () { setTimeout(poll, POLL_MS * 2); });
  }

  localizeTimes(document);
  setTimes();
  watchTick();
  var log = $("job-log");
  if (log) log.scrollTop = log.scrollHeight;
  connect();

  // For people (and tests) poking at the page from the console.
  window.VMPersonaJobLive = {
    lastSeq: function () { return lastSeq; },
    mode: function () { return mode; },
    socket: function () { return socket; },
    dropConnection: function () { if (socket) socket.close(4000, "test"); }
  };
})();
