/* The operations dashboard: the inventory chart, receiving units through the inventory API, and live alerts in the alerts panel. */
(function () {
  "use strict";
  var LEVEL_COLOURS = { critical: "#b02a37", low: "#b58105", adequate: "#198754" };

  function json(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function drawChart() {
    var canvas = document.getElementById("inventory-chart");
    var rows = json("inventory-chart-data");
    if (!canvas || !rows || typeof Chart === "undefined") { return; }
    var levels = {};
    (json("inventory-levels") || []).forEach(function (row) {
      if (row.component === "red_cells" && row.level) { levels[row.blood_type] = row.level; }
    });
    canvas.chart = new Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(function (row) { return row.blood_type; }),
        datasets: [{
          label: "Available units (red cells and whole blood)",
          data: rows.map(function (row) { return row.units; }),
          backgroundColor: rows.map(function (row) { return LEVEL_COLOURS[levels[row.blood_type]] || "#5c6670"; }),
        }],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  function receiveUnits() {
    var form = document.getElementById("receive-units");
    if (!form) { return; }
    var status = document.getElementById("receive-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var payload = { blood_type: data.get("blood_type"), component: data.get("component"), units: parseInt(data.get("units"), 10) };
      if (data.get("hospital")) { payload.hospital = parseInt(data.get("hospital"), 10); }
      // The collection date from the bag label (YYYY-MM-DD): the unit is dated from it, in the blood bank's time zone.
      if (data.get("collected_on")) { payload.collected_at = data.get("collected_on"); }
      status.textContent = "Receiving…";
      fetch(form.getAttribute("data-endpoint"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": data.get("csrfmiddlewaretoken") },
        body: JSON.stringify(payload),
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (result) {
        if (!result.ok) {
          status.textContent = "Not received: " + ((result.body.error && result.body.error.message) || "unknown error");
          return;
        }
        status.textContent = "Received " + result.body.units.length + " unit(s) of " + payload.blood_type + ". Updating the dashboard…";
        setTimeout(function () { location.reload(); }, 400);
      }).catch(function () { status.textContent = "Not received: the server could not be reached."; });
    });
  }

  function listLiveAlerts() {
    var list = document.getElementById("alert-list");
    if (!list) { return; }
    document.addEventListener("healthsync:alert", function (event) {
      var alert = event.detail;
      var empty = list.querySelector(".alert-empty");
      if (empty) { empty.remove(); }
      var item = document.createElement("li");
      item.className = "alert-" + alert.severity;
      var title = document.createElement("strong");
      title.textContent = alert.title;
      item.appendChild(title);
      item.appendChild(document.createTextNode(" " + alert.body));
      list.insertBefore(item, list.firstChild);
    });
  }

  drawChart();
  receiveUnits();
  listLiveAlerts();
})();
