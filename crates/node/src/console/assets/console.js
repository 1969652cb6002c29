// indomain console: live parts of a page. Every element with a
// `data-live` URL is refreshed from that URL (an HTML fragment the node
// renders, every value escaped there) once a second, without reloading
// the page. A fragment whose section says `data-final` stops the polling
// of its element. A lost session sends the browser to the login page.
"use strict";

(function () {
  const PERIOD_MS = 1000;

  function poll(element) {
    const url = element.getAttribute("data-live");
    let timer = null;
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
          if (element.querySelector("[data-final]")) {
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
