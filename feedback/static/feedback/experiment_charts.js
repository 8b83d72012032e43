// The experiment results page's charts (admin): Chart.js draws the data the page carries as
// JSON in #experiment-charts. A file, not an inline script, so the Content-Security-Policy
// allows it.
(function () {
  "use strict";
  const data = document.getElementById("experiment-charts");
  if (!data) return;
  const charts = JSON.parse(data.textContent);
  const common = { responsive: true, maintainAspectRatio: false, animation: false, spanGaps: true };
  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, { ...config, options: { ...common, ...config.options } });
  }
  draw("chart-km", {
    type: "line",
    data: { datasets: charts.km.datasets.map((d) => ({ ...d, stepped: true, pointRadius: 0 })) },
    options: {
      parsing: true,
      scales: {
        x: {
          type: "linear",
          beginAtZero: true,
          max: charts.km.x_max ?? undefined, // a little after the last publish (see results_charts)
          title: { display: true, text: "minutes since the Sell form opened" },
        },
        y: { beginAtZero: true, max: 100, ticks: { callback: (v) => `${v} %` } },
      },
      interaction: { mode: "nearest", intersect: false },
    },
  });
  draw("chart-sessions", {
    type: "line",
    data: charts.sessions,
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, interaction: { mode: "index", intersect: false } },
  });
  draw("chart-median", {
    type: "line",
    data: charts.median,
    options: { scales: { y: { beginAtZero: true } }, interaction: { mode: "index", intersect: false } },
  });
})();
