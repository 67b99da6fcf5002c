/* Billfold's small glue: every htmx answer that is not a success tells the user something.
 *
 * - 422 is a form re-rendered with its errors: htmx swaps it (see htmx-config in _layout_head.html).
 * - Any other error answer is not swapped. The server names the problem in an
 *   HX-Trigger header, {"toast": {"message": "...", "level": "error"}} (app/core/htmx.py),
 *   shown here as a toast. An answer without one (a proxy's 502, say) gets a generic toast.
 * - A network error or a timeout gets a toast too.
 * A form-level error still shown on a form whose new attempt failed is removed: it is no
 * longer the answer to what the user just did.
 *
 * Feedback while a request is pending: the element that sent it gets aria-busy and the
 * `is-pending` class (a spinner on its submit button, app.css), and its submit buttons are
 * disabled until the answer arrives (no double submit), for htmx and for plain forms alike.
 * After htmx swaps in a form with errors, the focus moves to its first invalid field (or its
 * error message), so keyboard and screen-reader users land on what needs fixing.
 * A form or button with data-confirm="Question?" asks first (the CSP forbids inline script,
 * so this replaces onclick="return confirm(...)"); htmx's own hx-confirm works too.
 */
(function () {
  "use strict";

  var GENERIC = {
    403: "You don't have access to this. The account owner decides what each user may do.",
    404: "That was not found. It may have been removed: reload the page.",
    409: "That can no longer be done. Nothing was changed.",
    413: "The file is too large: upload at most 5 MB.",
    429: "Too many attempts. Wait a minute and try again."
  };
  var SERVER_TROUBLE = "Something went wrong on our side. Please try again in a few minutes.";
  var OFFLINE = "We could not reach Billfold. Check your connection and try again.";
  var TIMEOUT = "The server took too long to answer. Check whether it worked before trying again.";
  var LINGER_MS = { success: 6000, info: 8000, warning: 12000, error: 0 }; // 0: stays until dismissed

  function region() {
    var el = document.getElementById("toasts");
    if (!el) {
      el = document.createElement("div");
      el.id = "toasts";
      el.className = "toasts";
      el.setAttribute("role", "status");
      el.setAttribute("aria-live", "polite");
      document.body.appendChild(el);
    }
    return el;
  }

  function showToast(message, level) {
    level = LINGER_MS.hasOwnProperty(level) ? level : "info";
    var toast = document.createElement("div");
    toast.className = "toast toast-" + level;
    var text = document.createElement("p");
    text.className = "toast-text";
    text.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "\u00d7";
    close.addEventListener("click", function () { toast.remove(); });
    toast.appendChild(text);
    toast.appendChild(close);
    region().appendChild(toast);
    if (LINGER_MS[level]) {
      setTimeout(function () { toast.remove(); }, LINGER_MS[level]);
    }
    return toast;
  }

  function fromDetail(detail) {
    // {"toast": {...}} arrives as the event's detail; several as {"toasts": [...]}.
    var items = detail && detail.toasts ? detail.toasts : [detail];
    items.forEach(function (item) {
      if (item && item.message) { showToast(item.message, item.level); }
    });
  }

  function carriesToast(xhr) {
    var header = xhr && xhr.getResponseHeader("HX-Trigger");
    return !!header && header.indexOf('"toast"') !== -1;
  }

  function clearStaleFormError(elt) {
    var form = elt && elt.closest ? elt.closest("form") : null;
    if (!form) { return; }
    form.querySelectorAll(":scope > .alert-error").forEach(function (alert) { alert.remove(); });
  }

  function submitters(elt) {
    var form = elt && elt.tagName === "FORM" ? elt : (elt && elt.closest ? elt.closest("form") : null);
    var found = form ? Array.prototype.slice.call(form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]")) : [];
    if (elt && elt.tagName === "BUTTON" && found.indexOf(elt) === -1) { found.push(elt); }
    return found;
  }

  function setPending(elt, pending) {
    if (!elt || !elt.setAttribute) { return; }
    elt.classList.toggle("is-pending", pending);
    if (pending) { elt.setAttribute("aria-busy", "true"); } else { elt.removeAttribute("aria-busy"); }
    submitters(elt).forEach(function (button) {
      if (pending) {
        if (!button.disabled) { button.disabled = true; button.setAttribute("data-pending", ""); }
      } else if (button.hasAttribute("data-pending")) {
        button.disabled = false;
        button.removeAttribute("data-pending");
      }
    });
  }

  document.addEventListener("htmx:beforeRequest", function (event) { setPending(event.detail.elt, true); });
  document.addEventListener("htmx:afterRequest", function (event) { setPending(event.detail.elt, false); });

  // A plain (non-htmx) form: disable its buttons once it is really on its way. A download
  // (the page stays) gets them back after a moment.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) { return; }
    setTimeout(function () { setPending(form, true); }, 0);
    setTimeout(function () { setPending(form, false); }, 8000);
  });
  window.addEventListener("pageshow", function () { // back from the cache: nothing is pending
    document.querySelectorAll(".is-pending").forEach(function (el) { setPending(el, false); });
  });

  // data-confirm on a form (asked at submit) or a button/link (asked at click).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest ? event.target.closest("a[data-confirm], button[data-confirm]") : null;
    if (trigger && !window.confirm(trigger.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  function focusFirstProblem(root) {
    if (!root || !root.querySelector) { return; }
    var target = root.querySelector("[aria-invalid=true], .has-error input, .has-error select, .has-error textarea");
    if (!target) {
      target = root.querySelector(".alert-error, .error-summary");
      if (target && !target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    }
    if (target) { target.focus(); }
  }

  var focusedFor = null; // afterSettle fires once per settled element: focus once per answer
  document.addEventListener("htmx:afterSettle", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status !== 422 || focusedFor === xhr) { return; }
    var root = event.target && event.target.isConnected ? event.target : null;
    var target = event.detail.target;
    if (!root && target) { root = target.isConnected ? target : document.getElementById(target.id); }
    if (root) { focusedFor = xhr; focusFirstProblem(root); }
  });

  document.addEventListener("toast", function (event) { fromDetail(event.detail); });

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    clearStaleFormError(event.detail.elt);
    if (carriesToast(xhr)) { return; } // the toast event has shown it already
    var status = xhr.status;
    showToast(GENERIC[status] || (status >= 500 ? SERVER_TROUBLE :
      "That did not work (error " + status + "). Reload the page and try again."), "error");
  });

  document.addEventListener("htmx:sendError", function (event) {
    clearStaleFormError(event.detail.elt);
    showToast(OFFLINE, "error");
  });

  document.addEventListener("htmx:timeout", function (event) {
    clearStaleFormError(event.detail.elt);
    showToast(TIMEOUT, "error");
  });

  window.billfold = { toast: showToast };
})();
