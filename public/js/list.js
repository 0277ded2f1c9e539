// Conversation lists: keyboard shortcuts (j/k move, Enter opens, x selects, / searches,
// ? shows help) and, on phones, the folder menu closed at first. Without JavaScript the
// page works the same, only without these shortcuts.
(function () {
  "use strict";
  var side = document.getElementById("ws-side");
  if (side && window.matchMedia("(max-width: 44rem)").matches) {
    side.open = false;
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("#conv-list .ws-row"));
  var current = -1;

  function select(i) {
    if (!rows.length) return;
    i = Math.max(0, Math.min(rows.length - 1, i));
    if (current >= 0) rows[current].classList.remove("is-current");
    current = i;
    var row = rows[current];
    row.classList.add("is-current");
    var link = row.querySelector(".ws-link");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var help = document.getElementById("shortcut-help");
    switch (e.key) {
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "Enter":
        if (current >= 0 && document.activeElement === document.body) {
          var link = rows[current].querySelector(".ws-link");
          if (link) window.location.href = link.href;
        }
        return;
      case "x":
        if (current >= 0) {
          var box = rows[current].querySelector("input[type=checkbox]");
          if (box) box.checked = !box.checked;
        }
        break;
      case "/":
        var search = document.getElementById("search-box");
        if (search) search.focus();
        break;
      case "?":
        if (help && typeof help.showModal === "function") {
          if (help.open) help.close(); else help.showModal();
        }
        break;
      default: return;
    }
    e.preventDefault();
  });
})();
