// Berth's only script of its own (the CSP allows no inline script): copy buttons, closing
// open <details> menus on Escape or a click elsewhere. Everything else is htmx attributes.
(function () {
  "use strict";

  function copy(text, button) {
    function done() {
      button.classList.add("berth-copied");
      button.setAttribute("title", "Copied");
      setTimeout(function () { button.classList.remove("berth-copied"); }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
      return;
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "pf-v5-screen-reader";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* nothing to copy with */ }
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target], [data-copy-text]");
    if (button) {
      var text = button.getAttribute("data-copy-text");
      if (text === null) {
        var source = document.getElementById(button.getAttribute("data-copy-target"));
        text = source ? source.value : "";
      }
      copy(text, button);
      return;
    }
    var item = event.target.closest("details.berth-menu [role=menuitem]");
    document.querySelectorAll("details.berth-menu[open]").forEach(function (menu) {
      // A chosen item closes its menu too (htmx may keep the page: the menu must not stay).
      if (!menu.contains(event.target) || item) { menu.removeAttribute("open"); }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    document.querySelectorAll("details.berth-menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) { summary.focus(); }
    });
  });
})();

// Forms whose fields depend on a choice: a <select data-toggles="NAME"> shows the elements of
// its form marked data-when="NAME=value1 value2" for the chosen value and hides the others.
// Without JavaScript every field shows, and the server reads the chosen ones only.
(function () {
  "use strict";
  function sync(select) {
    var name = select.getAttribute("data-toggles");
    var form = select.form;
    if (!form) { return; }
    form.querySelectorAll("[data-when^='" + name + "=']").forEach(function (el) {
      var values = el.getAttribute("data-when").slice(name.length + 1).split(" ");
      el.hidden = values.indexOf(select.value) < 0;
    });
  }
  function all() { document.querySelectorAll("select[data-toggles]").forEach(sync); }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-toggles]")) { sync(event.target); }
  });
  document.addEventListener("DOMContentLoaded", all);
  document.addEventListener("htmx:afterSwap", all);
})();
