// The drill progress page's charts, from the JSON the page carries.
document.addEventListener("DOMContentLoaded", () => {
  const s = JSON.parse(document.getElementById("progress-data").textContent);
  if (!window.Chart) return;
  const bar = (id, labels, data, label) => new Chart(document.getElementById(id), {
    type: "bar", data: {labels, datasets: [{label, data}]},
    options: {animation: false, plugins: {legend: {display: false}}}});
  bar("chart-reviews", s.days, s.reviews, "reviews");
  bar("chart-forecast", s.forecast_days, s.forecast, "due");
  bar("chart-topics", s.topics.map((t) => t.label), s.topics.map((t) => t.strength), "share passed");
});
