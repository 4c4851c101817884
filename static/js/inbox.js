/* The donor's inbox page: read from /api/notifications, mark read through the same API, refresh on live alerts. */
(function () {
  "use strict";
  var box = document.getElementById("inbox");
  if (!box) { return; }
  var list = document.getElementById("inbox-list");
  var csrf = document.querySelector("meta[name=csrf-token]").getAttribute("content");

  function post(url) {
    return fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf, Accept: "application/json" } });
  }

  // As healthsync.display.when: "8 Dec 23:59" ("8 Dec 2027 23:59" outside this year), in the hospital's time zone.
  var zone = box.dataset.timeZone || undefined;
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function parts(date) {
    var out = {};
    new Intl.DateTimeFormat("en-GB", { timeZone: zone, year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(date).forEach(function (part) { out[part.type] = part.value; });
    return out;
  }
  function when(iso) {
    var at = parts(new Date(iso)), now = parts(new Date());
    return at.day + " " + MONTHS[at.month - 1] + (at.year === now.year ? "" : " " + at.year) + " " + at.hour + ":" + at.minute;
  }

  function item(notification) {
    var li = document.createElement("li");
    li.className = "list-group-item d-flex flex-wrap justify-content-between gap-2" + (notification.read_at ? "" : " list-group-item-warning");
    var text = document.createElement("div");
    var title = document.createElement(notification.read_at ? "span" : "strong");
    title.textContent = notification.title;
    text.appendChild(title);
    var body = document.createElement("div");
    body.className = "small";
    body.textContent = notification.body;
    text.appendChild(body);
    var stamp = document.createElement("div");
    stamp.className = "small text-body-secondary";
    stamp.textContent = when(notification.created) + (notification.read_at ? " · read" : " · unread");
    text.appendChild(stamp);
    li.appendChild(text);
    if (!notification.read_at) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-secondary align-self-start";
      button.textContent = "Mark read";
      button.setAttribute("aria-label", "Mark read: " + notification.title);
      button.addEventListener("click", function () { post("/api/notifications/" + notification.notification_id + "/read").then(load); });
      li.appendChild(button);
    }
    return li;
  }

  function load() {
    return fetch(box.getAttribute("data-source") + "?page_size=50", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (page) {
        list.replaceChildren.apply(list, page.results.map(item));
        var loading = box.querySelector(".inbox-loading");
        loading.textContent = page.results.length ? "" : "No notifications yet.";
        box.setAttribute("aria-busy", "false");
      });
  }

  document.getElementById("inbox-read-all").addEventListener("click", function () { post("/api/notifications/read-all").then(load); });
  document.addEventListener("healthsync:alert", load);
  load();
})();
