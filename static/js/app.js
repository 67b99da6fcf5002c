/* Billfold's small glue: every htmx answer that is not a success tells the user something.
 *
 * - 422 is a form re-rendered with its errors: htmx swaps it (see htmx-config in _layout_head.html).
 * - Any other error answer is not swapped. The server names the problem in an
 *   HX-Trigger header, {"toast": {"message": "...", "level": "error"}} (app/core/htmx.py),
 *   shown here as a toast. An answer without one (a proxy's 502, say) gets a generic toast.
 * - A network error or a timeout gets a toast too.
 * A form-level error still shown on a form whose new attempt failed is removed: it is no
 * longer the answer to what the user just did.
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
