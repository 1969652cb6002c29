// indomain console: live parts of a page. Every element with a
// `data-live` URL is refreshed from that URL (an HTML fragment the node
// renders, every value escaped there) once a second, without reloading
// the page. Once a fragment says `data-final` (the job has ended), its
// element is refreshed ten more times — receipts of the other parties may
// still arrive — and then left alone. A lost session sends the browser to
// the login page.
"use strict";

(function () {
  const PERIOD_MS = 1000;

  function poll(element) {
    const url = element.getAttribute("data-live");
    const AFTER_FINAL = 10;
    let timer = null;
    let finalSeen = 0;
    async function refresh() {
      try {
        const response = await fetch(url, {
          credentials: "same-origin",
          cache: "no-store",
          headers: { Accept: "text/html" },
        });
        if (response.status === 401) {
          window.location.assign("/login");
          return;
        }
        if (response.ok) {
          element.innerHTML = await response.text();
          element.dispatchEvent(new CustomEvent("console:updated", { bubbles: true }));
          if (element.querySelector("[data-final]") && ++finalSeen >= AFTER_FINAL) {
            clearInterval(timer);
          }
        }
      } catch (e) {
        // The node may be restarting: try again at the next tick.
      }
    }
    timer = setInterval(refresh, PERIOD_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(poll);
  });
})();
