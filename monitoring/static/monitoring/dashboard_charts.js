// The monitoring dashboard's charts (admin): Chart.js draws the panels the page carries as JSON
// in #dashboard-charts. A file, not an inline script, so the Content-Security-Policy allows it.
// Clicking a point opens the admin run log filtered to that bucket (data.links).
(function () {
  "use strict";
  const element = document.getElementById("dashboard-charts");
  if (!element) return; // the form has errors: no charts
  const data = JSON.parse(element.textContent);
  const palette = ["#417690", "#e07a5f", "#81b29a", "#f2cc8f", "#6d597a", "#3d405b",
                   "#b56576", "#2a9d8f", "#e9c46a", "#8d99ae", "#c1121f", "#588157"];

  function options(panel) {
    const y = { beginAtZero: true, stacked: panel.stacked };
    if (panel.unit === "%") y.max = 100;
    if (panel.unit) y.title = { display: true, text: panel.unit };
    return {
      responsive: true, maintainAspectRatio: false, animation: false, spanGaps: true,
      interaction: { mode: "index", intersect: false },
      scales: { x: { stacked: panel.stacked }, y },
      onClick(event, elements) {
        if (!panel.labels && elements.length) window.location.href = data.links[elements[0].index];
      },
    };
  }

  const drawn = [];
  for (const panel of data.panels) {
    const datasets = panel.datasets.map((series, i) => ({
      label: series.label, data: series.data, hidden: !!series.hidden,
      backgroundColor: palette[i % palette.length], borderColor: palette[i % palette.length],
      pointRadius: 2,
    }));
    const canvas = document.getElementById(panel.id);
    const chart = new Chart(canvas, {
      type: panel.type, data: { labels: panel.labels || data.labels, datasets }, options: options(panel),
    });
    drawn.push(chart);
    canvas.dataset.drawn = "true"; // for the browser test: this chart was built
  }
  document.body.dataset.chartsDrawn = String(drawn.length);
})();
