// cluster-web's page: login, the live event stream, and the four views. No build step.
import { drawCharts } from "./charts.js";

const $ = (sel) => document.querySelector(sel);
const state = { session: null, cluster: null, hosts: {}, history: {}, timeline: [], logs: [],
                daemons: new Set(), down: null, host: null, source: null, logWatch: null };
const CONFIRM = {
  standby: (n) => `Put ${n} in standby? Every group on it moves to another node.`,
  takeover: (n) => `Take over on ${n}? Every group it may run moves there.`,
  move: (n, g) => `Move ${g} to ${n}? It stops where it runs now.`,
  ban: (n, g) => `Ban ${g} from ${n}? It stops there and moves elsewhere.`,
  clear: (_n, g) => `Clear the moves and bans of ${g}? It may move back to the node it prefers.`,
  "maintenance-on": () => "Turn maintenance mode on? The cluster stops starting and stopping resources.",
  "maintenance-off": () => "Turn maintenance mode off? Every resource is probed again and may be started or stopped.",
  unmanage: (_n, g) => `Unmanage ${g}? The cluster stops watching and moving it.`,
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}
const badge = (text, kind = "") => el("span", { class: `badge ${kind}` }, text);
const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false });
const stamp = (t) => {   // the time of day, with the date when it was not today
  const day = new Date(t * 1000);
  return day.toDateString() === new Date().toDateString() ? clock(t)
    : `${day.toLocaleDateString([], { month: "short", day: "numeric" })} ${clock(t)}`;
};
const bytes = (n) => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
};
const duration = (s) => {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
};

// -- session -------------------------------------------------------------------------------
async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-CSRF-Token": state.session?.csrf ?? "" },
  };
  const response = await fetch(path, { credentials: "same-origin", ...options });
  let data = {};
  try { data = await response.json(); } catch { /* not JSON */ }
  return { status: response.status, data };
}

async function start() {
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  $("#log-daemon").addEventListener("change", renderLogs);
  $("#log-node").addEventListener("change", watchLogs);
  $("#log-filter").addEventListener("input", renderLogs);
  window.addEventListener("hashchange", route);
  const { data } = await api("/api/session");
  if (data.user) loggedIn(data); else showLogin();
}

function showLogin() {
  state.session = null;
  state.source?.close();
  $("#login").hidden = false;
  $("#tabs").hidden = true;
  $("#logout").hidden = true;
  $("#user").textContent = "";
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
}

async function login(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const { status, data } = await api("/api/login", { user: form.get("user"), password: form.get("password") });
  if (status === 200) { event.target.reset(); $("#login-error").textContent = ""; loggedIn(data); }
  else $("#login-error").textContent = data.error ?? `login failed (${status})`;
}

async function logout() {
  await api("/api/logout", {});
  showLogin();
}

function loggedIn(session) {
  state.session = session;
  document.body.classList.toggle("readonly", !session.may_act);
  $("#login").hidden = true;
  $("#tabs").hidden = false;
  $("#logout").hidden = false;
  $("#user").textContent = `${session.user} · ${session.may_act ? "operator" : "read-only"}`;
  connect();
  route();
}

// -- live events ---------------------------------------------------------------------------
function connect() {
  state.source?.close();
  const source = new EventSource("/api/events");
  state.source = source;
  source.addEventListener("snapshot", (e) => {
    const snap = JSON.parse(e.data);
    Object.assign(state, { cluster: snap.cluster, hosts: snap.hosts, history: snap.history,
                           timeline: [], logs: [], down: null });
    addTimeline(snap.timeline);
    addLogs(snap.logs);
    renderAll();
  });
  source.addEventListener("cluster", (e) => { state.cluster = JSON.parse(e.data); state.down = null; renderCluster(); });
  source.addEventListener("down", (e) => { state.down = JSON.parse(e.data).error; renderBanner(); });
  source.addEventListener("host", (e) => {
    const sample = JSON.parse(e.data);
    state.hosts[sample.node] = sample;
    const mem = sample.mem_total ? 100 * sample.mem_used / sample.mem_total : 0;
    const rx = sample.net.reduce((a, n) => a + n.rx, 0), tx = sample.net.reduce((a, n) => a + n.tx, 0);
    const points = (state.history[sample.node] ??= []);
    points.push([sample.when, sample.cpu, mem, sample.load[0], rx, tx]);
    if (points.length > 720) points.shift();
    if (currentView() === "hosts" && sample.node === state.host) renderHost();
  });
  source.addEventListener("timeline", (e) => { addTimeline([JSON.parse(e.data)]); renderTimeline(); });
  source.addEventListener("log", (e) => {
    const batch = JSON.parse(e.data);
    addLogs(batch.lines.map((line) => ({ node: batch.node, daemon: batch.daemon, line })));
    if (currentView() === "logs") renderLogs();
  });
  source.onerror = async () => {
    if (source.readyState === EventSource.CLOSED) {
      const { status, data } = await api("/api/session");
      if (status === 200 && !data.user) showLogin(); else setTimeout(connect, 1000);
    }
  };
}

function addTimeline(entries) {   // kept in time order, each entry once (by its id)
  const known = new Set(state.timeline.map((t) => t.id));
  state.timeline.push(...entries.filter((t) => !known.has(t.id)));
  state.timeline.sort((a, b) => a.when - b.when);
}

function addLogs(entries) {
  for (const entry of entries) {
    state.logs.push(entry);
    if (!state.daemons.has(entry.daemon)) {
      state.daemons.add(entry.daemon);
      $("#log-daemon").append(el("option", { value: entry.daemon }, entry.daemon));
    }
  }
  if (state.logs.length > 2000) state.logs.splice(0, state.logs.length - 2000);
}

// -- routing -------------------------------------------------------------------------------
function currentView() {
  const name = location.hash.slice(1).split("/")[0];
  return ["overview", "hosts", "timeline", "logs"].includes(name) ? name : "overview";
}

function route() {
  if (!state.session) return;
  const view = currentView();
  const wanted = decodeURIComponent(location.hash.split("/")[1] ?? "");
  if (view === "hosts" && wanted) state.host = wanted;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  for (const link of document.querySelectorAll(".tabs a")) link.classList.toggle("active", link.dataset.view === view);
  renderAll();
  watchLogs();
}

function renderAll() {
  renderCluster();
  renderTimeline();
  if (currentView() === "hosts") renderHost();
  if (currentView() === "logs") renderLogs();
}

function renderBanner() {
  const banner = $("#banner");
  banner.hidden = !state.down;
  banner.textContent = state.down ? `Live status unavailable: ${state.down}` : "";
}

// -- overview --------------------------------------------------------------------------------
const NODE_KIND = { online: "ok", standby: "warn", offline: "bad", maintenance: "warn" };
const GROUP_KIND = { started: "ok", moving: "warn", failed: "bad", stopped: "bad" };

function renderCluster() {
  renderBanner();
  const c = state.cluster;
  if (!c) return;
  renderLogNodes();
  $("#summary").replaceChildren(...[
    badge(c.quorate ? "quorate" : "no quorum", c.quorate ? "ok" : "bad"),
    c.maintenance ? badge("maintenance", "warn maintenance") : null,
    badge(`DC ${c.dc ?? "none"}`, "plain"),
    badge(`instance ${c.instance ?? "–"}`, "plain"),
    badge(`${c.members.length}/${c.nodes.length} nodes`, "plain"),
    c.stonith ? badge("STONITH on", "plain") : null,
  ].filter(Boolean));
  const may = state.session?.may_act;
  $("#cluster-bar").replaceChildren(...(may ? [c.maintenance
    ? el("button", { "data-action": "maintenance-off", onclick: () => act("maintenance-off") }, "Leave maintenance mode")
    : el("button", { "data-action": "maintenance-on", onclick: () => act("maintenance-on") }, "Maintenance mode")] : []));
  $("#nodes").replaceChildren(...c.nodes.map((n) => el("article", { class: "card node", "data-node": n.name },
    el("div", { class: "row spread" },
      el("a", { class: "node-name", href: `#hosts/${encodeURIComponent(n.name)}` }, n.name),
      el("span", { class: "row" }, n.dc ? badge("DC", "plain") : null,
        el("span", { class: `badge node-state ${NODE_KIND[n.state] ?? ""}` }, n.state))),
    el("div", { class: "chips" }, n.links.map((l) => badge(`${l.name} ${l.status}`, l.status === "up" ? "ok" : "bad"))),
    el("dl", { class: "kv" },
      el("dt", {}, "heartbeat"), el("dd", {}, n.heartbeat),
      n.standby ? [el("dt", {}, "standby"), el("dd", {}, n.standby)] : null,
      n.unclean ? [el("dt", {}, "unclean"), el("dd", {}, "may still hold resources")] : null,
      hostLine(n.name)),
    may && n.state !== "offline" ? el("div", { class: "actions" },
      n.state === "standby"
        ? el("button", { "data-action": "online", onclick: () => act("online", n.name) }, "Online")
        : el("button", { "data-action": "standby", onclick: () => act("standby", n.name) }, "Standby"),
      el("button", { "data-action": "takeover", onclick: () => act("takeover", n.name) }, "Take over")) : null,
  )));
  $("#groups").replaceChildren(...c.groups.map((g) => el("article", { class: "card group", "data-group": g.key },
    el("div", { class: "row spread" },
      el("span", { class: "group-name" }, g.key),
      el("span", { class: "row" },
        el("span", { class: `badge group-state ${GROUP_KIND[g.state] ?? ""}` }, g.state),
        el("span", { class: "group-node" }, g.node ? `on ${g.node}` : "not running"))),
    el("ul", { class: "resources" }, g.resources.map((r) => el("li", {},
      el("code", {}, r.id), badge(r.state, GROUP_KIND[r.state] ?? ""), el("span", { class: "muted" }, r.node ?? "")))),
    failCounts(g.key), constraints(g),
    may ? groupActions(c, g) : null,
  )));
  const failures = c.failed_actions;
  $("#failures-box").hidden = failures.length === 0;
  $("#failures").replaceChildren(
    el("tr", {}, ["when", "node", "resource", "action", "result"].map((h) => el("th", {}, h))),
    ...failures.map((f) => el("tr", {}, el("td", {}, clock(f.when)), el("td", {}, f.node),
      el("td", {}, f.resource), el("td", {}, f.action), el("td", {}, `${f.outcome}${f.rc !== null ? ` (rc ${f.rc})` : ""}`))));
  $("#pings-box").hidden = c.ping_nodes.length === 0;
  $("#pings").replaceChildren(...c.ping_nodes.map((p) => badge(`${p.name} ${p.status === "ping" ? "reachable" : p.status}`, p.status === "ping" ? "ok" : "bad")));
  const devices = c.stonith_devices ?? [];
  $("#stonith-box").hidden = devices.length === 0 && !c.last_fence;
  $("#stonith").replaceChildren(
    el("tr", {}, ["device", "fences", "status"].map((h) => el("th", {}, h))),
    ...devices.map((d) => el("tr", {}, el("td", {}, el("code", {}, d.device)), el("td", {}, d.hosts.join(", ")),
      el("td", {}, badge(d.status, d.status === "ok" ? "ok" : "bad")))));
  const fence = c.last_fence;
  $("#last-fence").textContent = fence ? `Last fencing: ${fence.text} (${stamp(fence.when)})` : "";
  const monitors = c.monitors ?? [];
  $("#mon-box").hidden = monitors.length === 0;
  $("#mon").replaceChildren(
    el("tr", {}, ["service", "status", "last check", "summary"].map((h) => el("th", {}, h))),
    ...monitors.map((m) => el("tr", {}, el("td", {}, m.name),
      el("td", {}, badge(m.status, m.status === "ok" ? "ok" : m.status === "failed" ? "bad" : "")),
      el("td", {}, m.last_check ? clock(m.last_check) : "–"), el("td", {}, m.summary))));
  $("#notices").replaceChildren(...c.notices.map((n) => el("p", { class: "banner" }, n)));
}

function hostLine(node) {
  const h = state.hosts[node];
  if (!h) return null;
  return [el("dt", {}, "host"), el("dd", {}, `cpu ${h.cpu.toFixed(0)}% · load ${h.load[0].toFixed(2)} · up ${duration(h.uptime)}`)];
}

function failCounts(group) {
  const counts = state.cluster.fail_counts.filter((f) => f.group === group && f.count > 0);
  if (!counts.length) return null;
  return el("div", { class: "chips" }, counts.map((f) => badge(`fail count ${f.count} on ${f.node}`, "warn")));
}

function constraints(group) {
  const chips = group.constraints.map((c) => badge(c.kind === "ban" ? `banned from ${c.node}` : `moved to ${c.node}`, "warn"));
  if (!group.managed) chips.unshift(badge("unmanaged", "warn"));
  return chips.length ? el("div", { class: "chips" }, chips) : null;
}

function groupActions(c, g) {
  const others = c.nodes.filter((n) => n.state !== "offline" && n.name !== g.node);
  return el("div", { class: "actions" },
    others.map((n) => el("button", { "data-action": "move", "data-node": n.name, onclick: () => act("move", n.name, g.key) }, `Move to ${n.name}`)),
    g.node ? el("button", { "data-action": "ban", onclick: () => act("ban", g.node, g.key) }, `Ban from ${g.node}`) : null,
    g.constraints.length ? el("button", { "data-action": "clear", onclick: () => act("clear", "", g.key) }, "Clear move/ban") : null,
    g.managed
      ? el("button", { "data-action": "unmanage", onclick: () => act("unmanage", "", g.key) }, "Unmanage")
      : el("button", { "data-action": "manage", onclick: () => act("manage", "", g.key) }, "Manage"),
    el("button", { "data-action": "cleanup", onclick: () => act("cleanup", "", g.key) }, "Clean up"));
}

// -- actions ---------------------------------------------------------------------------------
async function act(action, node = "", group = "") {
  if (CONFIRM[action] && !(await confirmed(CONFIRM[action](node, group)))) return;
  const what = [action, group, node].filter(Boolean).join(" ");
  toast(`${what}…`);
  const { status, data } = await api("/api/action", { action, node, group });
  toast(status === 200 ? `${what}: ${data.detail || "done"}` : `${what} failed: ${data.error ?? data.detail}`);
}

function confirmed(text) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

let toastTimer = null;
function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 5000);
}

// -- hosts ---------------------------------------------------------------------------------
function renderHost() {
  const nodes = state.cluster ? state.cluster.nodes.map((n) => n.name) : Object.keys(state.hosts);
  if (!state.host || !nodes.includes(state.host)) state.host = nodes[0];
  $("#host-picker").replaceChildren(...nodes.map((name) => el("button", {
    class: name === state.host ? "active" : "", onclick: () => { location.hash = `#hosts/${encodeURIComponent(name)}`; },
  }, name)));
  const h = state.hosts[state.host];
  if (!h) { $("#host").replaceChildren(el("p", { class: "muted" }, "No figures from this node yet.")); return; }
  const meter = (label, big, sub, pct) => el("div", { class: "card meter" },
    el("div", { class: "muted" }, label), el("div", { class: "big" }, big), el("div", { class: "muted" }, sub),
    pct === null ? null : el("div", { class: `bar${pct > 90 ? " hot" : ""}` }, barFill(pct)));
  const memPct = h.mem_total ? 100 * h.mem_used / h.mem_total : 0;
  const swapPct = h.swap_total ? 100 * h.swap_used / h.swap_total : 0;
  const charts = el("div", { class: "charts" });
  $("#host").replaceChildren(
    el("div", { class: "meters" },
      meter("CPU", `${h.cpu.toFixed(0)}%`, `${h.cpus} cores`, h.cpu),
      meter("Load", h.load[0].toFixed(2), `${h.load[1].toFixed(2)} · ${h.load[2].toFixed(2)}`, null),
      meter("Memory", `${memPct.toFixed(0)}%`, `${bytes(h.mem_used)} of ${bytes(h.mem_total)}`, memPct),
      meter("Swap", h.swap_total ? `${swapPct.toFixed(0)}%` : "none", h.swap_total ? `${bytes(h.swap_used)} of ${bytes(h.swap_total)}` : "", h.swap_total ? swapPct : null),
      meter("Uptime", duration(h.uptime), `sampled ${clock(h.when)}`, null)),
    charts,
    el("h2", {}, "Disks"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("tr", {}, el("th", {}, "mount"), el("th", {}, "used"), el("th", {}, "size"), el("th", {}, "")),
      h.disks.map((d) => el("tr", {}, el("td", {}, el("code", {}, d.mount)), el("td", {}, bytes(d.used)),
        el("td", {}, bytes(d.total)), el("td", {}, el("div", { class: "bar" }, barFill(d.total ? 100 * d.used / d.total : 0))))))),
    el("h2", {}, "Network"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("tr", {}, el("th", {}, "interface"), el("th", {}, "in"), el("th", {}, "out")),
      h.net.map((n) => el("tr", {}, el("td", {}, n.interface), el("td", {}, `${bytes(n.rx)}/s`), el("td", {}, `${bytes(n.tx)}/s`))))),
    el("h2", {}, "Top processes"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("tr", {}, el("th", {}, "pid"), el("th", {}, "name"), el("th", {}, "cpu"), el("th", {}, "memory")),
      h.top.map((p) => el("tr", {}, el("td", {}, p.pid), el("td", {}, p.name), el("td", {}, `${p.cpu.toFixed(1)}%`), el("td", {}, bytes(p.rss)))))),
  );
  drawCharts(charts, state.history[state.host] ?? []);
}

function barFill(pct) {
  const fill = el("span");
  fill.style.width = `${Math.min(100, Math.max(0, pct)).toFixed(1)}%`;
  return fill;
}

// -- timeline and logs ----------------------------------------------------------------------
const TIMELINE_KIND = { "node-dead": "bad", failover: "warn", fence: "bad", "fence-failed": "bad",
                        failure: "bad", "node-join": "ok", online: "ok", standby: "warn", restart: "warn" };

function renderTimeline() {
  const items = state.timeline.slice().reverse().map((t) => el("li", { "data-kind": t.kind },
    el("time", {}, stamp(t.when)),
    el("span", {}, badge(t.kind, TIMELINE_KIND[t.kind] ?? ""), " ", t.text,
      t.duration !== null && t.duration !== undefined ? [" ", el("span", { class: "dur" }, `service away ${t.duration.toFixed(2)} s`)] : null)));
  $("#timeline").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "Nothing has happened yet.")]));
}

function logNode() { return $("#log-node").value || state.session?.node; }

function renderLogNodes() {
  const select = $("#log-node");
  const names = (state.cluster?.nodes ?? []).map((n) => n.name);
  const have = [...select.options].map((o) => o.value);
  if (names.length && names.join() !== have.join()) {
    const chosen = logNode();
    select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
    select.value = names.includes(chosen) ? chosen : state.session.node;
  }
}

// Another node's logs come over the cluster only while this view asks for them: ask now,
// then every 5 s while the view shows that node (the server stops fetching 15 s later).
async function watchLogs() {
  clearTimeout(state.logWatch);
  state.logWatch = null;
  const node = logNode();
  if (currentView() !== "logs" || !node || node === state.session?.node) { renderLogs(); return; }
  const { status, data } = await api(`/api/logs?node=${encodeURIComponent(node)}`);
  if (status === 200 && node === logNode()) {
    state.logs = state.logs.filter((l) => l.node !== node);
    addLogs(data.lines);
  }
  renderLogs();
  if (currentView() === "logs") state.logWatch = setTimeout(watchLogs, 5000);
}

function renderLogs() {
  const daemon = $("#log-daemon").value;
  const filter = $("#log-filter").value.toLowerCase();
  const node = logNode();
  const shown = state.logs.filter((l) => (l.node ?? state.session?.node) === node && (!daemon || l.daemon === daemon) && (!filter || l.line.toLowerCase().includes(filter)));
  const box = $("#logs");
  box.replaceChildren(...shown.slice(-800).map((l) => {
    const level = /\b(ERROR|CRIT|WARN)\b/.exec(l.line)?.[1] ?? "";
    return el("div", { class: level }, daemon ? l.line : `${l.daemon}: ${l.line}`);
  }));
  if ($("#log-follow").checked) box.scrollTop = box.scrollHeight;
}

start();
