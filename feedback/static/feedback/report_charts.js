// The feedback report's charts (admin): Chart.js draws the data the page carries as JSON in
// #report-charts. A file, not an inline script, so the Content-Security-Policy allows it.
(function () {
  "use strict";
  const data = document.getElementById("report-charts");
  if (!data) return; // no runs in the range: no charts
  const charts = JSON.parse(data.textContent);
  const percentTooltip = {
    callbacks: {
      label(ctx) {
        const ds = ctx.dataset, i = ctx.dataIndex;
        if (ctx.raw === null) return `${ds.label}: no data (n=0)`;
        const count = ds.counts ? `${ds.counts[i]} of ` : "";
        return `${ds.label}: ${ctx.raw} % (${count}n=${ds.n[i]})`;
      },
    },
  };
  const percentAxis = { beginAtZero: true, max: 100, ticks: { callback: (v) => `${v} %` } };
  const common = { responsive: true, maintainAspectRatio: false, animation: false, spanGaps: true };
  function draw(id, type, data, options) {
    new Chart(document.getElementById(id), { type, data, options: { ...common, ...options } });
  }
  draw("chart-acceptance", charts.acceptance.type, charts.acceptance, {
    scales: { y: percentAxis }, plugins: { tooltip: percentTooltip },
  });
  draw("chart-rates", charts.rates.type, charts.rates, {
    scales: { y: percentAxis }, plugins: { tooltip: percentTooltip },
  });
  draw("chart-daily", "line", charts.daily, {
    scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    interaction: { mode: "index", intersect: false },
  });
  draw("chart-time", "bar", charts.time, {
    scales: { y: percentAxis }, plugins: { tooltip: percentTooltip },
  });
})();
