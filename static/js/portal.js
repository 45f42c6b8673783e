/* The portal's only script: copy buttons, Escape-to-cancel, the narrow screens' menu, focus after
   a swap and confirmations in a dialog. No inline handlers, so a strict
   Content-Security-Policy holds. */
(function () {
  "use strict";

  function copy(button) {
    var text = button.getAttribute("data-copy");
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("aria-live", "polite");
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else {
      fallback(text);
      done();
    }
  }

  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-9999px";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) {
      event.preventDefault();
      copy(button);
    }
  });

  // Escape inside an in-place editor presses its Cancel button.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var form = event.target.closest && event.target.closest("form[data-inline-editor]");
    var cancel = form && form.querySelector("[data-cancel]");
    if (cancel) {
      event.preventDefault();
      cancel.click();
    }
  });

  // The menu button of narrow screens: opens and closes the menu; Escape closes it again.
  function setMenu(toggle, open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".menu-toggle");
    if (toggle) {
      setMenu(toggle, toggle.getAttribute("aria-expanded") !== "true");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var toggle = document.querySelector(".menu-toggle[aria-expanded='true']");
    var menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    if (menu && menu.contains(event.target)) {
      setMenu(toggle, false);
      toggle.focus();
    }
  });

  // After a swap the person's focus goes to what changed: the first field with an error, else
  // the first error message, else the region's heading. Only when their focus was inside what
  // was replaced, or they clicked or submitted an action (not a search or filter, whose field
  // keeps the focus); a region refreshing on its own or while they type leaves it alone.
  var hadFocus = new WeakSet();

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && document.activeElement && target.contains(document.activeElement)) {
      hadFocus.add(event.detail.xhr);
    }
  });

  function focusTarget(region) {
    var field = region.querySelector(".has-errors input, .has-errors select, .has-errors textarea, [aria-invalid='true']");
    if (field) { return field; }
    var found = region.querySelector(".notice.error, [role='alert'], .errorlist") ||
      region.querySelector("h1, h2, h3") || region;
    if (!found.matches("a, button, input, select, textarea, [tabindex]")) {
      found.setAttribute("tabindex", "-1");
    }
    return found;
  }

  var handled = new WeakSet();

  document.addEventListener("htmx:afterSettle", function (event) {
    var detail = event.detail;
    var region = event.target;
    if (!detail.xhr || handled.has(detail.xhr) || !region.isConnected) { return; }
    handled.add(detail.xhr);
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active)) { return; }
    var config = detail.requestConfig || {};
    var trigger = config.triggeringEvent;
    var asked = trigger && (trigger.type === "submit" || trigger.type === "click") &&
      config.verb && config.verb !== "get";
    var lost = hadFocus.has(detail.xhr) && (!active || active === document.body);
    if (asked || lost) {
      focusTarget(region).focus();
    }
  });

  // Confirmations in the page's dialog (base.html): a form with data-confirm asks before it is
  // sent; a link with data-confirm (to a confirmation page) is answered by a POST to its address
  // from the dialog instead. Without scripts the form goes straight through and the link opens
  // its page. data-confirm is the question, data-confirm-detail what follows, and
  // data-confirm-button the label of the button that goes ahead.
  var pending = null;

  function ask(trigger, action, proceed) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") { return false; }
    var detail = trigger.getAttribute("data-confirm-detail") || "";
    var text = dialog.querySelector("#confirm-text");
    dialog.querySelector("#confirm-title").textContent = trigger.getAttribute("data-confirm");
    text.textContent = detail;
    text.hidden = !detail;
    dialog.querySelector("[data-confirm-yes]").textContent =
      trigger.getAttribute("data-confirm-button") || "Confirm";
    dialog.querySelector("form").setAttribute("action", action);
    pending = { trigger: trigger, proceed: proceed, going: false };
    dialog.showModal();
    return true;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("[data-confirm-form]")) {
      if (pending && pending.proceed) {
        // The asking form goes ahead itself (with htmx when it uses it).
        event.preventDefault();
        pending.going = true;
        form.closest("dialog").close();
        pending.proceed();
      } else if (pending) {
        pending.going = true;
      }
      return;
    }
    if (!form.matches("form[data-confirm]")) { return; }
    if (form.getAttribute("data-confirmed") === "yes") {
      form.removeAttribute("data-confirmed");
      return;
    }
    var submitter = event.submitter || null;
    var asked = ask(form, form.getAttribute("action") || "", function () {
      form.setAttribute("data-confirmed", "yes");
      form.requestSubmit(submitter);
    });
    if (asked) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-confirm]");
    if (link && ask(link, link.getAttribute("href"), null)) {
      event.preventDefault();
      return;
    }
    if (event.target.closest("[data-confirm-no]")) {
      event.target.closest("dialog").close();
    }
  });

  // With scripts a confirming link opens the dialog, so it is a button to assistive technology
  // and the keyboard (Space presses it); without scripts it stays a plain link to its page.
  function markConfirmLinks(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("a[data-confirm]").forEach(function (link) {
      link.setAttribute("role", "button");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { markConfirmLinks(document); });
  document.addEventListener("htmx:load", function (event) { markConfirmLinks(event.target); });
  document.addEventListener("keydown", function (event) {
    if (event.key === " " && event.target.matches && event.target.matches("a[data-confirm]")) {
      event.preventDefault();
      event.target.click();
    }
  });

  document.addEventListener("close", function (event) {
    // Cancelled (button or Escape): back to what asked.
    if (event.target.id === "confirm-dialog" && pending && !pending.going) {
      var trigger = pending.trigger;
      var back = trigger.matches("form") ? trigger.querySelector("[type=submit]") : trigger;
      pending = null;
      if (back) { back.focus(); }
    }
  }, true);

  // A table wider than its box scrolls inside it (narrow screens); focusable then, so a
  // keyboard can scroll it too.
  function markScrollingTables() {
    document.querySelectorAll(".table").forEach(function (table) {
      if (table.scrollWidth > table.clientWidth) {
        table.setAttribute("tabindex", "0");
      } else if (table.getAttribute("tabindex") === "0") {
        table.removeAttribute("tabindex");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", markScrollingTables);
  document.addEventListener("htmx:load", markScrollingTables);
  window.addEventListener("resize", markScrollingTables);

  // An in-place editor opens with its text selected, so typing replaces the old name.
  document.addEventListener("htmx:load", function (event) {
    var input = event.target.querySelector && event.target.querySelector("[data-inline-editor] input[autofocus]");
    if (input) {
      input.focus();
      input.select();
    }
  });
})();
