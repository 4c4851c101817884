/* Live alerts over /ws/alerts/ (session cookie, same origin), shown as toasts in an aria-live region.
   Configured by the first element with data-live-alerts (the socket path); data-last-alert-id, when
   present, is the newest alert the page already shows, so anything newer is replayed on connect.
   Each alert is also dispatched as a "healthsync:alert" event for pages that list alerts. */
(function () {
  "use strict";
  var host = document.querySelector("[data-live-alerts]");
  var region = document.getElementById("live-toasts");
  if (!host || !region || !("WebSocket" in window)) { return; }
  var path = host.getAttribute("data-live-alerts");
  var lastId = null;
  var retryMs = 2000;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function showToast(alert) {
    var toast = element("div", "toast show hs-toast severity-" + (alert.severity || "info"));
    toast.setAttribute("data-alert-id", alert.id);
    var header = element("div", "toast-header");
    header.appendChild(element("strong", "me-auto", alert.title));
    var close = element("button", "btn-close");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss alert: " + alert.title);
    close.addEventListener("click", function () { toast.remove(); });
    header.appendChild(close);
    toast.appendChild(header);
    var body = element("div", "toast-body", alert.body);
    if (alert.link) {
      var link = element("a", "d-block mt-1", "Open");
      link.href = alert.link;
      body.appendChild(link);
    }
    toast.appendChild(body);
    region.appendChild(toast);
    if (alert.severity !== "critical") {
      setTimeout(function () { toast.remove(); }, 30000);
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + path + (lastId !== null ? "?last_id=" + lastId : "");
    var socket = new WebSocket(url);
    socket.onopen = function () { retryMs = 2000; document.documentElement.setAttribute("data-live-alerts-connected", "1"); };
    socket.onmessage = function (event) {
      var alert;
      try { alert = JSON.parse(event.data); } catch (error) { return; }
      if (!alert.id || (lastId !== null && alert.id <= lastId)) { return; }
      lastId = alert.id;
      showToast(alert);
      document.dispatchEvent(new CustomEvent("healthsync:alert", { detail: alert }));
    };
    socket.onclose = function (event) {
      document.documentElement.removeAttribute("data-live-alerts-connected");
      if (event.code === 4401) { return; }  // not logged in: nothing to hear
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }

  function start(newestShown) {
    lastId = newestShown;
    connect();
  }

  var given = host.getAttribute("data-last-alert-id");
  if (given !== null && given !== "") {
    start(parseInt(given, 10) || 0);
  } else {
    // The newest alert already in the inbox: the socket replays anything after it, nothing before.
    fetch("/api/notifications?page_size=1", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (page) { start(page.results && page.results.length ? page.results[0].id : 0); })
      .catch(function () { start(0); });
  }
})();
