// The lab analytics page's two charts (verdicts, speedups), from the JSON the page carries. The tables
// beside them hold the same numbers; without Chart.js the charts stay hidden and the page loses nothing.
document.addEventListener("DOMContentLoaded", () => {
  const data = document.getElementById("lab-chart-data");
  if (!data || !window.Chart) return;
  const charts = JSON.parse(data.textContent);
  const bar = (id, series, label) => {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    canvas.closest("figure").hidden = false;
    new Chart(canvas, {type: "bar", data: {labels: series.labels, datasets: [{label, data: series.counts}]},
      options: {animation: false, plugins: {legend: {display: false}}, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}});
  };
  bar("chart-verdicts", charts.verdicts, "submissions");
  bar("chart-speedups", charts.speedups, "accepted submissions");
});
