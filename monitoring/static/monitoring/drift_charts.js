// The drift report's charts (admin): for each dimension, bars of the day's share of each bin
// beside the reference's. The data is in #drift-charts; a file, not an inline script, so the
// Content-Security-Policy allows it.
(function () {
  "use strict";
  const data = document.getElementById("drift-charts");
  if (!data) return;
  const tooltip = {
    callbacks: {
      label(ctx) {
        const count = ctx.dataset.counts[ctx.dataIndex];
        return `${ctx.dataset.label}: ${ctx.raw} % (${count} runs)`;
      },
    },
  };
  for (const chart of JSON.parse(data.textContent)) {
    new Chart(document.getElementById(chart.id), {
      type: "bar",
      data: { labels: chart.labels, datasets: chart.datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { y: { beginAtZero: true, ticks: { callback: (v) => `${v} %` } } },
        plugins: { tooltip },
      },
    });
  }
})();
