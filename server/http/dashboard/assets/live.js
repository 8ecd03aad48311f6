// kickstand dashboard: copy buttons, confirmations, and live updates over server-sent events.
// Values from the server are placed with textContent only, never as HTML.
'use strict';
(function () {
  function copyText(text, button) {
    function done(ok) {
      var label = button.textContent;
      button.textContent = ok ? 'Copied' : 'Select and copy';
      setTimeout(function () { button.textContent = label; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback(text)); });
    } else {
      done(fallback(text));
    }
  }
  // Plain-HTTP pages get no clipboard API: copy through a selected off-screen textarea.
  function fallback(text) {
    var ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.top = '-1000px';
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }

  document.addEventListener('click', function (ev) {
    var b = ev.target.closest && ev.target.closest('[data-copy]');
    if (!b) return;
    var target = document.getElementById(b.getAttribute('data-copy'));
    if (target) copyText(target.textContent, b);
  });
  document.addEventListener('submit', function (ev) {
    var msg = ev.target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });

  function setBadge(el, badge) {
    if (!el) return;
    el.textContent = badge.label;
    el.className = 'badge badge-' + badge.cls;
  }
  function fmtDuration(ms) {
    if (ms < 1000) return Math.max(0, Math.round(ms)) + ' ms';
    var s = Math.round(ms / 1000);
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
  }
  function cell(text, label, cls) {
    var td = document.createElement('td');
    if (label) td.setAttribute('data-label', label);
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }
  function addTimelineRow(ev) {
    var body = document.getElementById('timeline');
    if (!body) return;
    var rows = body.querySelectorAll('tr');
    var prev = rows.length ? rows[rows.length - 1] : null;
    var after = prev && Number(prev.getAttribute('data-run')) === ev.run ? '+' + fmtDuration(ev.timeMs - Number(prev.getAttribute('data-time'))) : '';
    var tr = document.createElement('tr');
    tr.setAttribute('data-time', String(ev.timeMs));
    tr.setAttribute('data-run', String(ev.run));
    tr.className = 'fresh';
    tr.appendChild(cell(ev.time, '', 'mono'));
    var step = cell('', 'Step');
    var span = document.createElement('span');
    span.className = 'stage stage-' + (/^[a-z-]+$/.test(ev.stage) ? ev.stage : 'other');
    span.textContent = ev.stage;
    step.appendChild(span);
    tr.appendChild(step);
    tr.appendChild(cell(after, 'After', 'mono'));
    tr.appendChild(cell(ev.message, 'Message'));
    tr.appendChild(cell(ev.source, 'From', 'mono'));
    body.appendChild(tr);
    var empty = document.getElementById('timeline-empty');
    if (empty) empty.hidden = true;
  }

  // The counts above the list are fleet-wide (the list is one page): move one system from the
  // count of its old badge to the count of its new one.
  function recount(from, to) {
    var summary = document.getElementById('summary');
    if (!summary || from === to) return;
    function bump(cls, by) {
      var a = summary.querySelector('.badge-' + CSS.escape(cls));
      var n = (a ? parseInt(a.textContent, 10) || 0 : 0) + by;
      if (!a && n > 0) {
        a = document.createElement('a');
        a.className = 'badge badge-' + cls;
        a.href = '/ui/?state=' + encodeURIComponent(cls);
        summary.appendChild(a);
        summary.appendChild(document.createTextNode(' '));
      }
      if (!a) return;
      if (n <= 0) { a.remove(); return; }
      a.textContent = n + ' ' + cls;
    }
    if (from) bump(from, -1);
    bump(to, 1);
  }

  function onSystemEvent(data) {
    var kind = document.body.getAttribute('data-live');
    if (kind === 'list') {
      var row = document.querySelector('tr[data-system="' + CSS.escape(data.system) + '"]');
      if (!row) { document.getElementById('new-systems').hidden = false; return; }
      var badge = row.querySelector('[data-badge]');
      var from = badge ? badge.className.replace(/^badge badge-/, '') : '';
      setBadge(badge, data.badge);
      var last = row.querySelector('[data-last]');
      if (last) last.textContent = 'just now';
      recount(from, data.badge.cls);
      return;
    }
    if (kind !== 'system' || document.body.getAttribute('data-system') !== data.system) return;
    setBadge(document.querySelector('#system-badge [data-badge]'), data.badge);
    var shownRun = Number(document.body.getAttribute('data-run'));
    if (data.event.run === shownRun) addTimelineRow(data.event);
    // Once a run ends its token is retired: the cancel button and the one-liner go with it.
    var disarm = document.getElementById('disarm-form');
    if (disarm && !data.canDisarm) disarm.hidden = true;
    var rescue = document.getElementById('rescue-section');
    if (rescue && !data.canDisarm) rescue.hidden = true;
    var stale = data.event.run !== shownRun || data.event.hasLog || data.event.stage === 'armed' ||
      (data.canRebuild && !document.getElementById('rebuild')) || (data.canDisarm && !disarm);
    if (stale) document.getElementById('stale').hidden = false;
  }

  function connect() {
    var kind = document.body.getAttribute('data-live');
    if (!kind || !window.EventSource) return;
    var status = document.getElementById('live-status');
    var es = new EventSource('/ui/events');
    es.addEventListener('open', function () { status.hidden = true; document.body.setAttribute('data-connected', 'yes'); });
    es.addEventListener('error', function () {
      document.body.setAttribute('data-connected', 'no');
      status.textContent = 'Live updates paused; reconnecting…';
      status.hidden = false;
    });
    es.addEventListener('system', function (m) {
      try { onSystemEvent(JSON.parse(m.data)); } catch (e) { /* a malformed message changes nothing */ }
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', connect);
  else connect();
})();
