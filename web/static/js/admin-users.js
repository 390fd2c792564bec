/* The administrators' account form (templates/admin/users/): the unit typeahead. Typing a
 * name asks htmx for the matching units; a click, or Enter on an option, puts its code in
 * the hidden input and its name in the box; ↓ from the box goes to the options. Typing
 * again forgets the unit picked until another is picked. No inline script (CSP). */
(function () {
  "use strict";
  function pick(button) {
    var box = button.closest(".unit-pick");
    var shown = box.querySelector("[data-unit-for]");
    var hidden = document.getElementById(shown.getAttribute("data-unit-for"));
    hidden.value = button.getAttribute("data-unit-code");
    shown.value = button.getAttribute("data-unit-name");
    shown.setAttribute("data-picked", shown.value);
    shown.setAttribute("aria-expanded", "false");
    box.querySelector(".unit-options").innerHTML = "";
    shown.focus();
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-unit-code]");
    if (button) {
      event.preventDefault();
      pick(button);
    }
  });
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!target || !target.closest) {
      return;
    }
    if (target.hasAttribute("data-unit-for")) {
      var options = target.closest(".unit-pick").querySelectorAll("[data-unit-code]");
      if (event.key === "ArrowDown" && options.length) {
        event.preventDefault();
        options[0].focus();
      } else if (event.key === "Enter") {
        event.preventDefault(); // not a send of half a form
        if (options.length === 1) {
          pick(options[0]);
        }
      }
      return;
    }
    if (target.hasAttribute("data-unit-code")) {
      var list = Array.prototype.slice.call(
        target.closest(".unit-options").querySelectorAll("[data-unit-code]")
      );
      var at = list.indexOf(target);
      var input = target.closest(".unit-pick").querySelector("[data-unit-for]");
      if (event.key === "ArrowDown" && at < list.length - 1) {
        event.preventDefault();
        list[at + 1].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        (at > 0 ? list[at - 1] : input).focus();
      } else if (event.key === "Escape") {
        input.focus();
      }
    }
  });
  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target.hasAttribute && target.hasAttribute("data-unit-for") &&
        target.value !== target.getAttribute("data-picked")) {
      document.getElementById(target.getAttribute("data-unit-for")).value = "";
      target.setAttribute("aria-expanded", "true");
    }
  });
  document.querySelectorAll("[data-unit-for]").forEach(function (input) {
    input.setAttribute("data-picked", input.value);
  });
})();
