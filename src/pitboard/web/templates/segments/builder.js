// The segment builder's live preview: 400 ms after the last change, post the form to the preview route
// and show the HTML fragment it returns. Without this script the "Preview" button does the same by a
// full page load. Served from /segments/builder.js: the CSP runs scripts from our own origin only.
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  var target = document.getElementById("preview");
  if (!form || !target || !window.fetch || !window.FormData) {
    return;
  }
  var timer = null;
  var latest = 0;

  function update() {
    var mine = ++latest;
    var body = new FormData(form);
    target.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-preview-url"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (text) {
          return response.ok ? text : "<p class=\"notice error\">The preview failed (" + response.status + "). Reload the page.</p>";
        });
      })
      .then(function (html) {
        if (mine === latest) {  // an older, slower answer must not replace a newer one
          target.innerHTML = html;
          target.removeAttribute("aria-busy");
        }
      })
      .catch(function () {
        if (mine === latest) {
          target.textContent = "The preview is unavailable: no connection to pitboard.";
          target.removeAttribute("aria-busy");
        }
      });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 400);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  var buttons = document.querySelectorAll("button[data-snippet]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].addEventListener("click", function (event) {
      var area = document.getElementById("condition");
      area.value = event.currentTarget.getAttribute("data-snippet");
      area.focus();
      later();
    });
  }
})();
