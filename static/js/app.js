// Small behaviours on top of htmx; the pages work without this file.
(function () {
  "use strict";

  // After the job form comes back with errors, put the cursor on the first refused field.
  document.addEventListener("htmx:afterSwap", function (event) {
    var config = event.detail.requestConfig;
    if (!config || config.verb !== "post") return;
    var form = document.getElementById("job-form");
    if (!form) return;
    var invalid = form.querySelector("[aria-invalid=true]") || form.querySelector("#form-errors");
    if (invalid) {
      invalid.scrollIntoView({ block: "center" });
      if (invalid.focus) invalid.focus({ preventScroll: true });
    }
  });

  // Polling continues through outages; say so instead of showing stale data silently.
  function banner(show) {
    var el = document.getElementById("connection-lost");
    if (el) el.hidden = !show;
  }
  document.addEventListener("htmx:sendError", function () { banner(true); });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr && event.detail.xhr.status >= 500) banner(true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) banner(false);
  });
})();
