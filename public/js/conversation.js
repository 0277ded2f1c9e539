// The conversation page: status and assignee change as soon as they are picked, the
// Undo button goes away when the undo delay is over, "Print", and keyboard shortcuts
// (r reply, n note, a assign, s status, ? help). Everything works without it too.
(function () {
  'use strict';
  document.documentElement.classList.add('js');
  document.querySelectorAll('select[data-autosubmit]').forEach(function (s) {
    s.addEventListener('change', function () { s.form.submit(); });
  });
  document.querySelectorAll('form.undo-form[data-due]').forEach(function (f) {
    var left = Date.parse(f.getAttribute('data-due')) - Date.now();
    if (left > 0) { setTimeout(function () { f.remove(); }, left); }
  });
  var print = document.getElementById('print-button');
  if (print) { print.addEventListener('click', function () { window.print(); }); }
  var help = document.getElementById('shortcut-help');
  var close = document.getElementById('help-close');
  if (close) { close.addEventListener('click', function () { help.hidden = true; }); }

  function focusForm(id, field) {
    var form = document.getElementById(id);
    if (!form) { return; }
    form.scrollIntoView({ block: 'center' });
    var target = field ? document.getElementById(field) : null;
    if (target && !target.hidden) { target.focus(); } else if (window.postdeskEditor && id === 'reply') { window.postdeskEditor.focus(); }
  }
  var keys = {
    r: function () { focusForm('reply', 'reply-body'); },
    n: function () { focusForm('note', 'note-body'); },
    a: function () { var s = document.getElementById('assign-select'); if (s) { s.focus(); } },
    s: function () { var s = document.getElementById('status-select'); if (s) { s.focus(); } },
    '?': function () { if (help) { help.hidden = !help.hidden; } }
  };
  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var t = e.target;
    if (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.nodeName)) {
      if (e.key === 'Escape') { t.blur(); }
      return;
    }
    var run = keys[e.key];
    if (run) { e.preventDefault(); run(); }
  });
}());
