// assay keyboard shortcuts: every choice on a rating page has a key (listed on the page).
// Plain server-rendered forms work without this script; it only moves focus and ticks inputs.
(function () {
  "use strict";

  function typingIn(el) {
    if (!el) return false;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && !["radio", "checkbox", "submit", "button"].includes(el.type);
  }

  // the lead dashboard: a part being recomputed in the background is fetched again until it is current
  function reload(box) {
    setTimeout(function () {
      fetch(box.dataset.load, {credentials: "same-origin", headers: {"Accept": "text/html"}})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          box.innerHTML = html;
          if (box.querySelector("[data-refreshing]")) reload(box);
        });
    }, 3000);
  }

  function init() {
    var box = document.querySelector("[data-load]");
    if (box) reload(box);
    var cont = document.querySelector("[data-continue]");
    if (cont) {
      document.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { e.preventDefault(); cont.click(); }
      });
    }
    var form = document.getElementById("answer");
    if (!form) return;
    var kind = form.dataset.kind;
    var dims = Array.prototype.slice.call(form.querySelectorAll("fieldset.dim"));
    var just = document.getElementById("justification");
    var note = document.getElementById("flag_note");
    var guide = document.getElementById("guidelines-link");
    var skipForm = document.getElementById("skip");
    var skipReason = document.getElementById("skip_reason");
    var cur = 0;
    var order = [];  // rank mode: response numbers pressed so far, best first

    function show(i) {
      cur = Math.max(0, Math.min(i, dims.length - 1));
      dims.forEach(function (d, k) { d.classList.toggle("current", k === cur); });
      var num = dims[cur] && dims[cur].querySelector("[data-continuous]");
      if (num) num.focus();
    }

    function pick(key) {
      var dim = dims[cur];
      if (!dim) return false;
      var input = dim.querySelector('input[data-key="' + key + '"]');
      if (!input) return false;
      input.checked = true;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      if (cur < dims.length - 1) show(cur + 1);
      else if (just) just.focus();
      return true;
    }

    function compare(key) {
      var choice = form.querySelector('input[name="choice"][data-key="' + key + '"]');
      if (choice) {
        choice.checked = true;
        if (key === "t" || key === "x") {
          form.querySelectorAll('input[name="strength"]').forEach(function (s) { s.checked = false; });
          if (just) just.focus();
        } else {
          show(1);
        }
        return true;
      }
      var strength = form.querySelector('input[name="strength"][data-key="' + key + '"]');
      if (strength) {
        strength.checked = true;
        if (just) just.focus();
        return true;
      }
      return false;
    }

    function rank(key) {
      var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-rank]"));
      if (key === "Backspace") {
        order = [];
        selects.forEach(function (s) { s.value = ""; });
        return true;
      }
      var sel = form.querySelector('select[data-rank="' + key + '"]');
      if (!sel || order.indexOf(key) >= 0) return false;
      order.push(key);
      sel.value = String(order.length);
      if (order.length === selects.length && just) just.focus();
      return true;
    }

    document.addEventListener("keydown", function (e) {
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
        e.preventDefault();
        // from the skip reason, Ctrl+Enter skips; anywhere else it submits the answer
        var which = skipForm && e.target && e.target.form === skipForm ? skipForm : form;
        if (which.requestSubmit) which.requestSubmit(); else which.submit();
        return;
      }
      if (e.key === "Escape") {
        if (document.activeElement && typingIn(document.activeElement)) document.activeElement.blur();
        return;
      }
      if (typingIn(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      var key = e.key;
      var done = false;
      if (key === "e" && just) { just.focus(); done = true; }
      else if (key === "g" && guide) { guide.click(); done = true; }
      else if (key === "s" && skipReason) { skipReason.focus(); done = true; }  // then Enter skips
      else if (key === "f" || key === "u" || key === "n") {
        var box = form.querySelector('input[data-flag="' + key + '"]');
        if (box) { box.checked = !box.checked; if (box.checked && note) note.focus(); done = true; }
      }
      else if (kind === "rate") {
        if (key === "j" || key === "ArrowDown") { show(cur + 1); done = true; }
        else if (key === "k" || key === "ArrowUp") { show(cur - 1); done = true; }
        else if (/^[0-9]$/.test(key)) done = pick(key);
      }
      else if (kind === "compare") done = compare(key);
      else if (kind === "rank" && (/^[1-9]$/.test(key) || key === "Backspace")) done = rank(key);
      if (done) e.preventDefault();
    });

    dims.forEach(function (d, k) { d.addEventListener("click", function () { show(k); }); });
    // a double click or a second Ctrl+Enter sends nothing more (the server ignores repeats anyway)
    form.addEventListener("submit", function () {
      var btn = document.getElementById("submit");
      setTimeout(function () { if (btn) btn.disabled = true; }, 0);
    });
    if (skipForm) {
      skipForm.addEventListener("submit", function () {
        var btn = document.getElementById("skip-button");
        setTimeout(function () { if (btn) btn.disabled = true; }, 0);
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
