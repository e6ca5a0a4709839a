// consultbot, web channel: a small enhancement of pages that work without it.
// - moves the keyboard focus to the new question (or the error) after each answer;
// - a form is sent once: a second click while the first is on its way does nothing.
(function () {
  "use strict";
  function focusNew() {
    var target = null;
    if (document.getElementById("notices")) {
      target = document.querySelector("#answer") || document.querySelector("#search");
    }
    if (!target) { target = document.querySelector("[data-focus]"); }
    var active = document.activeElement;
    // Nothing focused yet, or the question the address' #q points to: move on to the error's
    // field (or the question), never away from something the participant chose to focus.
    if (target && (!active || active === document.body || active.id === "q")) {
      target.focus({ preventScroll: false });
    }
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    if (form.hasAttribute("data-busy")) { event.preventDefault(); return; }
    form.setAttribute("data-busy", "");
    form.setAttribute("aria-busy", "true");
  }, true);
  window.addEventListener("pageshow", function (event) {
    // Coming back with the browser's back button: the page may come from the cache, busy.
    var forms = document.querySelectorAll("form[data-busy]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].removeAttribute("data-busy");
      forms[i].removeAttribute("aria-busy");
    }
    if (!event.persisted) { focusNew(); }
  });
})();
