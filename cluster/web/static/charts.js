// Host history charts (CPU, memory, load, network) with the vendored uPlot (window.uPlot).
const SERIES = [
  { title: "CPU and memory (%)", columns: [[1, "CPU %", "#2467b3"], [2, "memory %", "#1f8a5b"]], range: [0, 100] },
  { title: "Load (1 min)", columns: [[3, "load", "#a86500"]] },
  { title: "Network (all interfaces)", columns: [[4, "in", "#2467b3"], [5, "out", "#c0392b"]], rate: true },
];

function rate(n) {
  const units = ["B/s", "K/s", "M/s", "G/s"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${+n.toFixed(1)} ${units[i]}`;
}

export function drawCharts(container, points) {
  const uPlot = window.uPlot;
  if (!uPlot || points.length < 2) {
    container.append(Object.assign(document.createElement("p"), { className: "muted", textContent: "Charts appear after a few samples." }));
    return;
  }
  const dark = matchMedia("(prefers-color-scheme: dark)").matches;
  const axis = { stroke: dark ? "#93a1b0" : "#5d6b7a", grid: { stroke: dark ? "#2c3640" : "#e6eaef" }, ticks: { show: false } };
  const times = points.map((p) => p[0]);
  for (const spec of SERIES) {
    const box = document.createElement("div");
    box.className = "card chart";
    container.append(box);
    const width = Math.max(240, box.clientWidth - 32);
    const data = [times, ...spec.columns.map(([i]) => points.map((p) => p[i]))];
    new uPlot({
      title: spec.title, width, height: 140, legend: { show: true },
      scales: { x: { time: true }, y: spec.range ? { range: spec.range } : { auto: true } },
      axes: [axis, spec.rate ? { ...axis, size: 60, values: (_u, ticks) => ticks.map(rate) } : { ...axis, size: 48 }],
      series: [{}, ...spec.columns.map(([, label, stroke]) => ({ label, stroke, width: 1.5 }))],
    }, data, box);
  }
}
