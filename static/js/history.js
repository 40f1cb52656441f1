// The history page's chart of scores over time, from the JSON the page carries (no inline script).
document.addEventListener("DOMContentLoaded", () => {
  const data = document.getElementById("chart-data");
  if (!data || !window.Chart) return;
  const points = JSON.parse(data.textContent);
  new Chart(document.getElementById("chart-scores"), {type: "line",
    data: {labels: points.map((p) => p.x), datasets: [{label: "Score (%)", data: points.map((p) => p.y), tension: 0.2}]},
    options: {animation: false, scales: {y: {min: 0, max: 100}}, plugins: {tooltip: {callbacks: {title: (items) => points[items[0].dataIndex].quiz}}}}});
});
