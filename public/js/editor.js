// The reply editor: Squire (public/vendor/squire) replaces the reply textarea with a
// rich-text area. Pasted or dropped images are uploaded (POST /uploads) and shown in
// place; other files are attached by button or drop. The HTML goes back into the
// textarea on submit (format=html), so the form posts as it would without JavaScript.
// Drafts are autosaved to the form's data-draft URL. The server sanitizes everything
// again; the cleaning here only keeps the editor itself safe.
(function () {
  'use strict';
  var form = document.getElementById('reply') || document.getElementById('new-conversation');
  var area = document.getElementById('reply-body');
  if (!form || !area || !window.Squire) { return; }
  var csrf = form.querySelector('[name=csrf_token]').value;
  var format = document.getElementById('reply-format');
  var uploads = document.getElementById('reply-uploads');
  var fileInput = document.getElementById('reply-file');
  var stateLine = document.getElementById('draft-state');
  var limit = parseInt(area.getAttribute('data-limit'), 10) || 0;
  var draftUrl = form.getAttribute('data-draft');

  // Elements kept (with the attributes listed); others are unwrapped, and these go
  // together with their content.
  var KEEP = {
    A: ['href'], B: [], STRONG: [], I: [], EM: [], U: [], S: [], P: [], DIV: [], BR: [],
    UL: [], OL: [], LI: [], BLOCKQUOTE: [], PRE: [], CODE: [], SPAN: [], HR: [], SUB: [],
    SUP: [], H1: [], H2: [], H3: [], H4: [], TABLE: [], THEAD: [], TBODY: [], TR: [],
    TD: ['colspan', 'rowspan'], TH: ['colspan', 'rowspan'], IMG: ['src', 'alt', 'width', 'height']
  };
  var DROP = /^(SCRIPT|STYLE|IFRAME|FRAME|OBJECT|EMBED|SVG|MATH|TEMPLATE|NOSCRIPT|TITLE|HEAD|TEXTAREA|SELECT|BUTTON|INPUT|FORM)$/;

  function urlOk(tag, name, value) {
    var v = value.trim().toLowerCase();
    if (tag === 'A') { return /^(https?:|mailto:|tel:)/.test(v); }
    if (tag === 'IMG') { return /^\/uploads\/\d+$/.test(v) || /^data:image\/(png|jpeg|gif|webp)[;,]/.test(v); }
    return name !== 'href' && name !== 'src';
  }

  function copy(src, dst) {
    for (var n = src.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 3) { dst.appendChild(document.createTextNode(n.data)); continue; }
      if (n.nodeType !== 1) { continue; }
      var tag = n.nodeName.toUpperCase();
      if (DROP.test(tag)) { continue; }
      var allowed = KEEP[tag];
      if (!allowed) { copy(n, dst); continue; }
      var el = document.createElement(tag);
      allowed.forEach(function (name) {
        var value = n.getAttribute(name);
        if (value !== null && urlOk(tag, name, value)) { el.setAttribute(name, value); }
      });
      if (tag === 'A') { el.setAttribute('rel', 'noopener noreferrer'); el.setAttribute('target', '_blank'); }
      copy(n, el);
      dst.appendChild(el);
    }
  }

  // DOMParser documents are inert: nothing in them loads or runs.
  function sanitize(html) {
    var parsed = new DOMParser().parseFromString(html, 'text/html');
    var frag = document.createDocumentFragment();
    copy(parsed.body, frag);
    return frag;
  }

  var root = document.createElement('div');
  root.className = 'editor-root mail-html';
  root.id = 'reply-editor';
  root.setAttribute('role', 'textbox');
  root.setAttribute('aria-multiline', 'true');
  root.setAttribute('aria-label', (document.querySelector('label[for=reply-body]') || {}).textContent || '');
  area.parentNode.insertBefore(root, area);
  area.hidden = true;
  var editor = new window.Squire(root, { sanitizeToDOMFragment: sanitize });
  if (area.value.trim()) {
    editor.setHTML(format.value === 'html' ? area.value : area.value.split(/\n{2,}/).map(function (p) {
      var d = document.createElement('p');
      d.textContent = p;
      return d.outerHTML.replace(/\n/g, '<br>');
    }).join(''));
  }
  format.value = 'html';
  window.postdeskEditor = editor;

  function say(text) { if (stateLine) { stateLine.textContent = text; } }

  function addFile(u) {
    var li = document.createElement('li');
    var hidden = document.createElement('input');
    hidden.type = 'hidden';
    hidden.name = 'upload';
    hidden.value = u.id;
    li.appendChild(hidden);
    li.appendChild(document.createTextNode(u.name + ' '));
    var rm = document.createElement('button');
    rm.type = 'button';
    rm.className = 'link';
    rm.setAttribute('data-remove-upload', '');
    rm.textContent = '×';
    li.appendChild(rm);
    uploads.appendChild(li);
  }

  function upload(file, inline) {
    if (limit && file.size > limit) { say(area.getAttribute('data-too-large')); return; }
    fetch('/uploads', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'X-CSRF-Token': csrf,
        'Content-Type': file.type || 'application/octet-stream',
        'X-File-Name': encodeURIComponent(file.name || 'image.png')
      },
      body: file
    }).then(function (r) {
      if (r.status === 413) { throw new Error(area.getAttribute('data-too-large')); }
      if (!r.ok) { throw new Error(area.getAttribute('data-upload-failed')); }
      return r.json();
    }).then(function (u) {
      if (inline && /^image\/(png|jpeg|gif|webp)$/.test(u.mime)) {
        editor.insertImage(u.url, { alt: u.name });
      } else {
        addFile(u);
      }
      changed();
    }).catch(function (e) { say(e.message); });
  }

  editor.addEventListener('pasteImage', function (e) {
    var items = (e.detail && e.detail.clipboardData || {}).items || [];
    for (var i = 0; i < items.length; i++) {
      if (items[i].kind === 'file' && /^image\//.test(items[i].type)) { upload(items[i].getAsFile(), true); }
    }
  });
  root.addEventListener('drop', function (e) {
    var files = e.dataTransfer && e.dataTransfer.files;
    if (!files || !files.length) { return; }
    e.preventDefault();
    e.stopPropagation();
    Array.prototype.forEach.call(files, function (f) { upload(f, /^image\//.test(f.type)); });
  }, true);
  form.addEventListener('dragover', function (e) { e.preventDefault(); });
  form.addEventListener('drop', function (e) {
    var files = e.dataTransfer && e.dataTransfer.files;
    if (!files || !files.length) { return; }
    e.preventDefault();
    Array.prototype.forEach.call(files, function (f) { upload(f, false); });
  });
  fileInput.addEventListener('change', function () {
    Array.prototype.forEach.call(fileInput.files, function (f) { upload(f, false); });
    fileInput.value = '';
  });
  uploads.addEventListener('click', function (e) {
    if (e.target.hasAttribute('data-remove-upload')) { e.target.parentNode.remove(); changed(); }
  });

  var commands = {
    bold: function () { return editor.hasFormat('B') ? editor.removeBold() : editor.bold(); },
    italic: function () { return editor.hasFormat('I') ? editor.removeItalic() : editor.italic(); },
    ul: function () { return editor.hasFormat('UL') ? editor.removeList() : editor.makeUnorderedList(); },
    ol: function () { return editor.hasFormat('OL') ? editor.removeList() : editor.makeOrderedList(); },
    quote: function () { return editor.increaseQuoteLevel(); },
    code: function () { return editor.toggleCode(); },
    attach: function () { fileInput.click(); },
    link: function (button) {
      var url = window.prompt(button.getAttribute('data-prompt'), 'https://');
      if (url && /^(https?:|mailto:)/i.test(url.trim())) { editor.makeLink(url.trim()); }
    }
  };
  form.querySelectorAll('[data-cmd]').forEach(function (b) {
    b.addEventListener('click', function () { commands[b.getAttribute('data-cmd')](b); editor.focus(); });
  });

  function sync() { area.value = editor.getHTML(); }
  form.addEventListener('submit', function () { sync(); saving = true; });

  // Autosave: a second and a half after the last change.
  var timer = null;
  var saving = false;
  function save() {
    if (!draftUrl || saving) { return; }
    sync();
    var body = new URLSearchParams(new FormData(form));
    fetch(draftUrl, { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf }, body: body })
      .then(function (r) { if (r.ok) { say(area.getAttribute('data-saved')); } });
  }
  function changed() {
    if (!draftUrl) { return; }
    clearTimeout(timer);
    timer = setTimeout(save, 1500);
  }
  editor.addEventListener('input', changed);
  form.querySelectorAll('input[type=text], select').forEach(function (el) { el.addEventListener('change', changed); });
  var discard = document.getElementById('discard-draft');
  if (discard && draftUrl) {
    discard.addEventListener('click', function () {
      clearTimeout(timer);
      var body = new URLSearchParams({ csrf_token: csrf, discard: '1' });
      fetch(draftUrl, { method: 'POST', credentials: 'same-origin', body: body }).then(function () {
        editor.setHTML('');
        uploads.textContent = '';
        say('');
      });
    });
  }
}());
