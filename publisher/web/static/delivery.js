// The delivery page's live part: while anything is pending, ask for the fragment again every
// second (with HX-Request, as htmx would) and put it in place; stop once nothing is pending.
(function () {
  "use strict";
  var EVERY_MS = 1000;
  var box = document.getElementById("progress");
  if (!box || !window.fetch || !window.DOMParser) {
    return;
  }
  function schedule(delay) {
    window.setTimeout(tick, delay);
  }
  function tick() {
    if (box.getAttribute("data-pending") !== "true") {
      return;
    }
    fetch(box.getAttribute("data-poll"), {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
      cache: "no-store"
    })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error("status " + answer.status);
        }
        return answer.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("progress");
        if (fresh) {
          box.replaceWith(fresh);
          box = fresh;
        }
        schedule(EVERY_MS);
      })
      .catch(function () {
        schedule(EVERY_MS * 5); // the server is away or restarting: ask again, less often
      });
  }
  schedule(EVERY_MS);
})();
