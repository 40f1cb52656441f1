// The gradebook's item-analysis chart: each part's first-attempt scores by bin, stacked (the table beside
// it carries the same numbers).
document.addEventListener("DOMContentLoaded", () => {
  const data = document.getElementById("items-data");
  if (!data || !window.Chart) return;
  const s = JSON.parse(data.textContent);
  const canvas = document.getElementById("chart-items");
  canvas.parentElement.style.height = `${4 + 2 * s.labels.length}rem`;
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: s.labels,
      datasets: s.bins.map((bin, i) => ({label: `score ${bin}`, data: s.histograms.map((h) => h[i])})),
    },
    options: {indexAxis: "y", animation: false, maintainAspectRatio: false,
              scales: {x: {stacked: true, title: {display: true, text: "students"}}, y: {stacked: true}}},
  });
});
