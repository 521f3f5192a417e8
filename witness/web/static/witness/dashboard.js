// Dashboard charts (issue 8 item 6) drawn with the vendored uPlot from the JSON that the
// page carries in <script type="application/json" id="dashboard-data"> (json_script):
// no inline script, no request to any other host. Series labels come from data-label-*
// attributes so that they follow the page's language.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || !window.uPlot) { return; }
  var data = JSON.parse(source.textContent);
  var section = document.querySelector("section.charts");
  var monthLabel = (section && section.getAttribute("data-label-month")) || "";

  function xs(months) {
    // uPlot's x axis is time in seconds: the 1st of each month, 00:00 UTC.
    return months.map(function (m) {
      return Date.UTC(Number(m.slice(0, 4)), Number(m.slice(5, 7)) - 1, 1) / 1000;
    });
  }

  var palette = ["#1f5fa8", "#c2410c", "#15803d", "#7c3aed"];

  function draw(el, months, series) {
    var width = Math.max(280, el.clientWidth || 560);
    var opts = {
      width: width,
      height: 220,
      scales: { x: { time: true } },
      axes: [{ values: "{YYYY}-{MM}" }, {}],
      // the x series' legend label in the page's language (uPlot's default is "Time")
      series: [{ label: monthLabel }].concat(series.map(function (s, i) {
        return { label: s.label, stroke: palette[i % palette.length], width: 2,
                 dash: s.dash || undefined, spanGaps: false, points: { show: true } };
      }))
    };
    var chart = new window.uPlot(opts, [xs(months)].concat(series.map(function (s) {
      return s.values;
    })), el);
    window.addEventListener("resize", function () {
      chart.setSize({ width: Math.max(280, el.clientWidth || 560), height: 220 });
    });
  }

  var charts = {
    activities: function (el) {
      draw(el, data.months, [
        { label: el.dataset.labelActivities, values: data.activities },
        { label: el.dataset.labelMust, values: data.must_record }]);
    },
    shares: function (el) {
      draw(el, data.months, [
        { label: el.dataset.labelCoverage, values: data.coverage },
        { label: el.dataset.labelOntime, values: data.on_time }]);
    },
    devices: function (el) {
      draw(el, data.months, [
        { label: el.dataset.labelDevices, values: data.devices_in_use },
        { label: el.dataset.labelMinimum, values: data.minimum, dash: [6, 4] }]);
    },
    storage: function (el) {
      draw(el, data.storage_months, [
        { label: el.dataset.labelUsed, values: data.storage_used_gib },
        { label: el.dataset.labelForecast, values: data.storage_forecast_gib, dash: [6, 4] }]);
    },
    findings: function (el) {
      draw(el, data.months, [{ label: el.dataset.labelFindings, values: data.open_findings }]);
    }
  };

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var make = charts[el.dataset.chart];
    if (make) { make(el); el.setAttribute("data-drawn", "true"); }
  });
})();
