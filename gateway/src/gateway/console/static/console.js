// The console's one script (progressive enhancement; every page works without it).
//
// Live progress: an element with data-progress-url polls that URL (JSON) every second and
// updates its <progress> and text (the JSON's "text", in the page's words), and the page's
// [data-progress-state] and [data-progress-updated] elements from its "state" and "updated";
// when "state" is done (or finished) or failed it stops, reveals the element's
// .progress-done link and hides the page's [data-progress-running] elements (words about a
// job still running, with their own way back). The JSON may give generated/requested or
// done/total.
// Without the script a page refreshes itself: <noscript><meta http-equiv="refresh"></noscript>.
(function () {
  "use strict";

  var FINISHED = ["done", "finished", "failed"];

  function numbers(data) {
    var done = data.generated, total = data.requested;
    if (done === undefined) { done = data.done; total = data.total; }
    return { done: Number(done) || 0, total: Number(total) || 0 };
  }

  // A count as the server writes it ("{:,}"): 20000 -> "20,000".
  function grouped(value) {
    return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function show(selector, value) {
    if (value === undefined || value === null || value === "") { return; }
    Array.prototype.forEach.call(document.querySelectorAll(selector), function (el) {
      el.textContent = String(value);
    });
  }

  function track(box) {
    var url = box.getAttribute("data-progress-url");
    var bar = box.querySelector("progress");
    var text = box.querySelector(".progress-text");
    var done = box.querySelector(".progress-done");
    var timer = null;

    function finish(data) {
      window.clearInterval(timer);
      if (done) { done.hidden = false; }
      Array.prototype.forEach.call(document.querySelectorAll("[data-progress-running]"), function (el) {
        el.hidden = true;
      });
      var link = data && data.doneUrl;
      if (link && done) {
        var a = done.querySelector("a");
        if (a && link.charAt(0) === "/" && link.charAt(1) !== "/") { a.href = link; }
      }
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          var n = numbers(data);
          if (bar && n.total > 0) { bar.max = n.total; bar.value = n.done; }
          if (text) {
            text.textContent =
              data.text || (grouped(n.done) + " of " + grouped(n.total) + " (" + data.state + ")");
          }
          show("[data-progress-state]", data.state);
          show("[data-progress-updated]", data.updated);
          if (FINISHED.indexOf(data.state) >= 0) { finish(data); }
        })
        .catch(function () {
          window.clearInterval(timer);
          if (text) { text.textContent += " (live updates stopped; reload the page)"; }
        });
    }

    timer = window.setInterval(poll, 1000);
    poll();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-progress-url]"), track);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
