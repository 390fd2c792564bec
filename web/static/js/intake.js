/* The intake page, keyboard first (loaded by templates/intake/new.html; no inline script).
 *  - 1–5 on the classification (or nowhere in particular) record a contact without case
 *    data; Ctrl+Enter saves the report; Enter in a one-line field never sends half a form.
 *  - The commune typeaheads: ↓/↑ move through the options, Enter or a click picks one.
 *  - Typing in the fields that identify a child or a caller asks for suggestions ("matchkey",
 *    debounced by htmx); a lost session says so instead of showing the sign-in page. */
(function () {
  "use strict";
  var form = document.getElementById("intake-form");
  if (!form) {
    return;
  }
  var MATCH_KEYS = [
    "child-full_name", "child-national_id", "child-birth_date", "child-age_years",
    "child-unit_code", "incident_unit_code", "reporter-phone"
  ];

  function typingIn(element) {
    if (!element || !element.tagName) {
      return false;
    }
    var tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") {
      return true;
    }
    return tag === "INPUT" && !/^(radio|checkbox|button|submit|reset)$/.test(element.type);
  }

  function options(input) {
    var box = document.getElementById(input.getAttribute("data-commune-for") + "-options");
    return box ? Array.prototype.slice.call(box.querySelectorAll("[data-pick-code]")) : [];
  }

  function focusAfter(element) {
    var all = Array.prototype.slice.call(
      form.querySelectorAll("input:not([type=hidden]), select, textarea, button")
    ).filter(function (el) { return !el.disabled && !el.closest(".commune-options"); });
    var next = all[all.indexOf(element) + 1];
    if (next) {
      next.focus();
    }
  }

  function pick(button) {
    var target = button.getAttribute("data-pick-for");
    var hidden = document.getElementById(target);
    var shown = document.getElementById(target + "-q");
    hidden.value = button.getAttribute("data-pick-code");
    shown.value = button.getAttribute("data-pick-name");
    shown.setAttribute("data-picked", shown.value);
    document.getElementById(target + "-options").innerHTML = "";
    shown.setAttribute("aria-expanded", "false");
    hidden.dispatchEvent(new Event("input", { bubbles: true }));
    focusAfter(shown);
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit(document.getElementById("save-report"));
      return;
    }
    if (target && target.hasAttribute && target.hasAttribute("data-commune-for")) {
      var found = options(target);
      if (event.key === "ArrowDown" && found.length) {
        event.preventDefault();
        found[0].focus();
        return;
      }
      if (event.key === "Enter") {
        event.preventDefault();
        if (found.length === 1) {
          pick(found[0]);
        }
        return;
      }
    }
    if (target && target.hasAttribute && target.hasAttribute("data-pick-code")) {
      var list = Array.prototype.slice.call(
        target.closest(".commune-options").querySelectorAll("[data-pick-code]")
      );
      var at = list.indexOf(target);
      if (event.key === "ArrowDown" && at < list.length - 1) {
        event.preventDefault();
        list[at + 1].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        (at > 0 ? list[at - 1] : document.getElementById(target.getAttribute("data-pick-for") + "-q")).focus();
      } else if (event.key === "Escape") {
        document.getElementById(target.getAttribute("data-pick-for") + "-q").focus();
      }
      return;
    }
    if (event.key === "Enter" && form.contains(target) && target.tagName === "INPUT") {
      event.preventDefault(); // one-line fields, radios, check boxes: not a send
      return;
    }
    if (typingIn(target) || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var onStart = target === document.body || (target.closest && target.closest("#classify"));
    if (!onStart) {
      return;
    }
    var button = document.querySelector('[data-hotkey="' + event.key + '"]');
    if (button) {
      event.preventDefault();
      button.click();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-pick-code]");
    if (button) {
      event.preventDefault();
      pick(button);
    }
  });

  form.addEventListener("input", function (event) {
    var target = event.target;
    if (target.hasAttribute("data-commune-for") && target.value !== target.getAttribute("data-picked")) {
      // The name no longer names the commune picked: the code goes until one is picked.
      var hidden = document.getElementById(target.getAttribute("data-commune-for"));
      if (hidden.value) {
        hidden.value = "";
        form.dispatchEvent(new CustomEvent("matchkey"));
      }
      target.setAttribute("aria-expanded", "true");
    }
    if (MATCH_KEYS.indexOf(target.name) >= 0) {
      form.dispatchEvent(new CustomEvent("matchkey"));
    }
  });
  form.addEventListener("change", function (event) {
    if (MATCH_KEYS.indexOf(event.target.name) >= 0) {
      form.dispatchEvent(new CustomEvent("matchkey"));
    }
  });

  document.querySelectorAll("[data-commune-for]").forEach(function (input) {
    input.setAttribute("data-picked", input.value);
  });

  document.body.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status === 401) {
      var status = document.getElementById("draft-status");
      status.textContent = status.getAttribute("data-signed-out") || "";
      status.classList.add("text-danger");
    }
  });
})();
