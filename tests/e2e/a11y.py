"""Accessibility checks for the browser tests: axe-core's serious and critical violations on the page as it is
now, a chart's table alternative, and Tab-only navigation.

axe-core comes from npm (frontend/package.json) and `node frontend/build.mjs` copies it to tests/e2e/vendor/,
outside static/: no page of the site can load it. It is evaluated through the DevTools protocol, which the
site's Content-Security-Policy (no inline script) does not apply to."""

import re
from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((n) => n.target.join(" >>> "))}));
}"""


def axe_violations(page) -> list[str]:
    """The page's serious and critical axe-core violations, one line each: rule, targets, help."""
    assert AXE.exists(), f"{AXE} is missing: run `node frontend/build.mjs` (make frontend)"
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    return [f"{v['impact']} {v['id']}: {', '.join(v['targets'][:5])} ({v['help']})"
            for v in page.evaluate(RUN_AXE) if v["impact"] in BLOCKING]


CHARTS = """() => [...document.querySelectorAll("canvas")].map((canvas) => {
  const chart = window.Chart && Chart.getChart(canvas);
  const table = document.getElementById(canvas.dataset.table || "");
  return {
    id: canvas.id,
    labels: chart ? chart.data.labels.map(String) : null,
    datasets: chart ? chart.data.datasets.map((d) => d.data) : [],
    table: table && table.tagName === "TABLE" ? canvas.dataset.table : null,
    // on the page, or one click away in a <details>
    reachable: Boolean(table && (table.checkVisibility() || table.closest("details"))),
    rows: table ? [...table.tBodies].flatMap((b) => [...b.rows]).map((r) => ({
      header: r.cells[0] ? r.cells[0].textContent.trim() : null,
      text: [...r.cells].map((c) => c.textContent).join(" | ")})) : [],
  };
})"""


def _shows(text: str, value: float) -> bool:
    """A number of the row is the value (rounded for display, or as a percentage of a fraction)."""
    numbers = [float(n) for n in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?", text)]
    return any(abs(n - value) <= 0.5 or abs(n - 100 * value) <= 0.5 for n in numbers)


def _heads(header: str | None, label: str) -> bool:
    """The row's first cell is the label, maybe with small print after it ("Title, Part 2 (slug:key)")."""
    return header is not None and re.match(re.escape(label) + r"(\s|$)", header) is not None


def chart_table_problems(page) -> list[str]:
    """Each chart (a Chart.js canvas) names its table alternative (data-table), a <table> on the page or in a
    <details>, with a row for each of the chart's labels (its first cell) that shows each of its values."""
    problems = []
    for chart in page.evaluate(CHARTS):
        where = f"#{chart['id']}"
        if chart["labels"] is None:
            problems.append(f"{where}: no chart was drawn")
        elif chart["table"] is None:
            problems.append(f"{where}: data-table names no <table>")
        elif not chart["reachable"]:
            problems.append(f"{where}: its table #{chart['table']} is hidden")
        else:
            for i, label in enumerate(chart["labels"]):
                rows = [r["text"] for r in chart["rows"] if _heads(r["header"], label)]
                values = [d[i] for d in chart["datasets"] if d[i] is not None]
                if not any(all(_shows(text, v) for v in values) for text in rows):
                    problems.append(f"{where}: no row of #{chart['table']} is headed {label!r} with {values}")
    return problems


FOCUSED = """() => { const e = document.activeElement;
  return e ? `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""} ${(e.textContent || e.value || "").trim().slice(0, 30)}` : ""; }"""


def tab_to(page, selector: str, *, limit: int = 80, back: bool = False) -> None:
    """Press Tab (Shift+Tab with back) until the element that has the focus matches the selector."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        seen.append(page.evaluate(FOCUSED))
    raise AssertionError(f"{selector} never had the focus after {limit} Tabs; the focus went to {seen}")
