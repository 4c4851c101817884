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
    var when = document.createElement("div");
    when.className = "small text-body-secondary";
    when.textContent = new Date(notification.created).toLocaleString() + (notification.read_at ? " · read" : " · unread");
    text.appendChild(when);
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
