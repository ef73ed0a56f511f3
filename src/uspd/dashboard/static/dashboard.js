// uspd dashboard: draws what the live chain sees, from the server-sent events of /api/stream,
// and edits the settings through /api/settings. Plain JavaScript and canvas, no build step.
"use strict";

const VIEW_S = 30;            // seconds of stream the plots show
const DYNAMIC_RANGE_DB = 36;  // colour scale of the spectrogram above its noise floor
const MAX_EVENTS = 40;
const token = new URLSearchParams(location.search).get("token");
const authHeaders = token ? { Authorization: `Bearer ${token}` } : {};
const $ = (id) => document.getElementById(id);

const view = {
  velocity: [], messageS: 0.04, capacity: 750,
  frames: [],               // newest last: {time_s, doppler_db, score, motion, occupied, minor_threshold, major_threshold, onset}
  floorDb: null,            // running noise floor of the Doppler frames, for the colour scale
  dirty: false,
  configuredMinor: null,    // presence.minor_threshold from the settings: lower in force means raised sensitivity
};

// --- colour map: dark blue → purple → orange → pale yellow (perceptually ordered, like inferno) ---
const LUT = (() => {
  const stops = [[0, 11, 15, 20], [0.25, 58, 28, 113], [0.5, 160, 42, 110], [0.75, 239, 103, 44], [1, 252, 240, 165]];
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    let k = 0;
    while (k < stops.length - 2 && x > stops[k + 1][0]) k++;
    const [x0, ...c0] = stops[k], [x1, ...c1] = stops[k + 1];
    const f = (x - x0) / (x1 - x0);
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = c0[c] + f * (c1[c] - c0[c]);
  }
  return lut;
})();
const COLORS = { major: "#ff5fa2", minor: "#ffc24b", score: "#7fd4ff", occupied: "rgba(63,185,124,0.18)",
                 axis: "#8b98a8", grid: "rgba(139,152,168,0.15)" };
const MARGIN = { left: 46, right: 8, top: 14, bottom: 22 };

// --- the stream ---
function connect() {
  const source = new EventSource("api/stream" + (token ? `?token=${encodeURIComponent(token)}` : ""));
  source.addEventListener("hello", (e) => onHello(JSON.parse(e.data)));
  source.addEventListener("frame", (e) => onFrame(JSON.parse(e.data)));
  source.addEventListener("event", (e) => onEvent(JSON.parse(e.data)));
  source.addEventListener("status", (e) => onStatus(JSON.parse(e.data)));
  source.onerror = () => setChip("offline", "reconnecting…");  // EventSource retries by itself
}

function onHello(hello) {
  playout.live = false;  // what follows until the first status is the backlog: shown at once
  playout.queue = [];
  view.velocity = hello.velocity_m_s;
  view.messageS = hello.message_s;
  view.capacity = Math.ceil(VIEW_S / hello.message_s);
  view.frames = [];
  view.floorDb = null;
  $("source").textContent = hello.source;
  $("events").innerHTML = '<li class="muted">no events yet</li>';
}

// Frames come in bursts: a simulated or recorded source sends one block (a second) at a
// time. The playout queue spreads each burst over the time until the next, so the plots
// scroll smoothly, at the cost of about one burst of delay (a sound card's bursts are 0.1 s).
const playout = { live: false, queue: [], arrivals: [], burst: 0, burstSize: 1, lastArrival: 0, lastTick: null, credit: 0 };

function onFrame(frame) {
  if (!playout.live) { showFrame(frame); return; }
  const now = performance.now();
  if (now - playout.lastArrival > 50 && playout.burst) {  // the previous burst is complete
    playout.burstSize = 0.7 * playout.burstSize + 0.3 * playout.burst;
    playout.burst = 0;
  }
  playout.burst++;
  playout.lastArrival = now;
  playout.arrivals.push(now);
  playout.queue.push(frame);
}

function release(now) {
  const dt = playout.lastTick === null ? 0 : Math.min(0.5, (now - playout.lastTick) / 1000);
  playout.lastTick = now;
  while (playout.arrivals.length && playout.arrivals[0] < now - 4000) playout.arrivals.shift();
  const span = (now - (playout.arrivals[0] ?? now)) / 1000;
  const rate = span > 2 ? playout.arrivals.length / span : 1 / view.messageS;  // frames per wall second
  const target = Math.max(1, playout.burstSize);
  while (playout.queue.length > 2 * target + 1) showFrame(playout.queue.shift());  // a hidden tab caught up
  playout.credit += dt * rate * Math.min(4, Math.max(0.25, playout.queue.length / target));
  while (playout.credit >= 1 && playout.queue.length) { showFrame(playout.queue.shift()); playout.credit -= 1; }
  if (!playout.queue.length) playout.credit = Math.min(playout.credit, 1);
}

function showFrame(frame) {
  view.frames.push(frame);
  if (view.frames.length > view.capacity) view.frames.splice(0, view.frames.length - view.capacity);
  const sorted = [...frame.doppler_db].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1];
  view.floorDb = view.floorDb === null ? median : 0.98 * view.floorDb + 0.02 * median;
  view.dirty = true;
}

function onEvent(ev) {
  const list = $("events");
  if (list.firstElementChild && list.firstElementChild.classList.contains("muted")) list.innerHTML = "";
  const item = document.createElement("li");
  const time = ev.wall_time.slice(11, 19);
  if (ev.event === "routine") {
    item.innerHTML = `<span class="time">${time}</span><span class="routine">→ ${escapeHtml(ev.routine)}</span><span class="muted">${ev.trigger}</span>`;
  } else {
    const cls = ev.event === "motion" ? `ev-${ev.kind}` : `ev-${ev.event}`;
    const what = ev.event === "motion" ? `${ev.kind} motion` : ev.event;
    item.innerHTML = `<span class="time">${time}</span><span class="${cls}">${what}</span><span class="muted">${ev.score.toFixed(2)}</span>`;
    if (ev.event !== "motion") $("occupancy-since").textContent = `since ${time}`;
  }
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

function onStatus(status) {
  playout.live = true;
  const state = status.state.split(":")[0];
  setChip(state, status.state);
  $("wall-time").textContent = status.wall_time.replace("T", " ").slice(0, 19);
  $("counters").textContent = `stream ${status.time_s.toFixed(0)} s · ${status.frames} frames · ` +
    `${status.dropped_frames} dropped · ${status.events} events · ${status.firings} routines fired · MQTT ${status.mqtt}`;
  const em = status.emission;
  $("emission").textContent = em.state;
  $("emission-detail").textContent = `${em.mode} · duty ${em.duty_pct.toFixed(0)} % · ${(em.carrier_hz / 1000).toFixed(1)} kHz`;
  const cal = em.calibration;
  if (cal) {
    $("calibration").textContent = `${(cal.carrier_hz / 1000).toFixed(1)} kHz`;
    $("calibration-detail").textContent = `level ${cal.level_dbfs.toFixed(1)} dBFS · calibrated`;
  } else {
    const origin = { simulated: "set by the simulated scene", wav: "found in the recording", soundcard: "from the config" }[em.origin] || em.origin;
    $("calibration").textContent = `${(em.carrier_hz / 1000).toFixed(1)} kHz`;
    const level = em.level_dbfs === null ? "level unknown" : `level ${em.level_dbfs.toFixed(1)} dBFS`;
    $("calibration-detail").textContent = `${level} · ${origin} (not calibrated)`;
  }
}

function setChip(cls, text) {
  const chip = $("stream-state");
  chip.className = `chip ${cls}`;
  chip.textContent = text;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// --- the cards ---
function updateCards(frame) {
  const room = $("occupancy");
  room.textContent = frame.occupied ? "occupied" : "vacant";
  room.className = `big ${frame.occupied ? "occupied" : "vacant"}`;
  $("room-card").classList.toggle("occupied", frame.occupied);
  const motion = $("motion");
  motion.textContent = frame.motion;
  motion.className = `big motion-${frame.motion}`;
  $("score").textContent = frame.score.toFixed(2);
  $("score-bar").style.width = `${(100 * frame.score).toFixed(1)}%`;
  $("minor-mark").style.left = `${100 * frame.minor_threshold}%`;
  $("major-mark").style.left = `${100 * frame.major_threshold}%`;
  $("threshold").textContent = `${frame.minor_threshold.toFixed(2)} / ${frame.major_threshold.toFixed(2)}`;
  const raised = view.configuredMinor !== null && frame.minor_threshold < view.configuredMinor;
  $("threshold-note").textContent = raised ? "· raised sensitivity after clear motion" : "";
}

// --- the plots ---
function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.round(canvas.clientWidth * ratio), height = Math.round(canvas.clientHeight * ratio);
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width: canvas.clientWidth, height: canvas.clientHeight };
}

function xOf(index, plotWidth) {  // frame index in view.frames → x (newest at the right edge)
  const column = view.capacity - view.frames.length + index;
  return MARGIN.left + ((column + 0.5) / view.capacity) * plotWidth;
}

function drawTimeAxis(ctx, plotWidth, y) {
  ctx.fillStyle = COLORS.axis;
  ctx.textAlign = "center";
  for (let s = 0; s <= VIEW_S; s += 5) {
    const x = MARGIN.left + plotWidth * (1 - s / VIEW_S);
    ctx.textAlign = s === 0 ? "right" : "center";
    ctx.fillText(s === 0 ? "now" : `−${s} s`, x, y);
  }
}

function drawSpectrogram() {
  const canvas = $("spectrogram");
  const { ctx, width, height } = fitCanvas(canvas);
  const plotW = width - MARGIN.left - MARGIN.right, plotH = height - MARGIN.top - MARGIN.bottom - 8;
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif";
  const nv = view.velocity.length;
  if (!nv) return;

  const image = new ImageData(view.capacity, nv);
  const lo = view.floorDb ?? 0, n = view.frames.length;
  for (let i = 0; i < n; i++) {
    const column = view.capacity - n + i, db = view.frames[i].doppler_db;
    for (let j = 0; j < nv; j++) {
      const level = Math.max(0, Math.min(255, Math.round(((db[j] - lo) / DYNAMIC_RANGE_DB) * 255)));
      const p = ((nv - 1 - j) * view.capacity + column) * 4;  // + approaching at the top
      image.data[p] = LUT[level * 3]; image.data[p + 1] = LUT[level * 3 + 1]; image.data[p + 2] = LUT[level * 3 + 2];
      image.data[p + 3] = 255;
    }
  }
  const buffer = document.createElement("canvas");
  buffer.width = view.capacity; buffer.height = nv;
  buffer.getContext("2d").putImageData(image, 0, 0);
  ctx.fillStyle = "#0b0f14";
  ctx.fillRect(MARGIN.left, MARGIN.top, plotW, plotH);
  ctx.drawImage(buffer, MARGIN.left, MARGIN.top, plotW, plotH);

  // velocity axis
  const vMin = view.velocity[0], vMax = view.velocity[nv - 1];
  ctx.textAlign = "right";
  for (let v = Math.ceil(vMin); v <= vMax; v++) {
    const y = MARGIN.top + ((vMax - v) / (vMax - vMin)) * plotH;
    ctx.fillStyle = COLORS.axis;
    ctx.fillText(`${v > 0 ? "+" : ""}${v}`, MARGIN.left - 6, y + 4);
    ctx.fillStyle = COLORS.grid;
    ctx.fillRect(MARGIN.left, y, plotW, 1);
  }
  ctx.save();
  ctx.translate(11, MARGIN.top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillStyle = COLORS.axis;
  ctx.fillText("m/s", 0, 0);
  ctx.restore();

  // motion class strip and detection marks
  const stripY = MARGIN.top + plotH + 2, columnW = plotW / view.capacity;
  const marks = [];
  for (let i = 0; i < n; i++) {
    const frame = view.frames[i], x = xOf(i, plotW);
    if (frame.motion !== "none") {
      ctx.fillStyle = COLORS[frame.motion];
      ctx.fillRect(x - columnW / 2, stripY, columnW + 0.5, 5);
    }
    if (frame.onset) {  // a detection: major gets a line through the plot, minor a tick
      marks.push({ x, kind: frame.onset });
      ctx.strokeStyle = COLORS[frame.onset];
      ctx.lineWidth = 1.5;
      ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(x, MARGIN.top); ctx.lineTo(x, MARGIN.top + (frame.onset === "major" ? plotH : 12)); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = COLORS[frame.onset];
      ctx.beginPath(); ctx.moveTo(x - 5, MARGIN.top - 8); ctx.lineTo(x + 5, MARGIN.top - 8); ctx.lineTo(x, MARGIN.top - 1); ctx.fill();
    }
  }
  const labelled = [];  // major labels first; none closer than 48 px to another
  for (const mark of [...marks].sort((a, b) => (b.kind === "major") - (a.kind === "major"))) {
    if (labelled.some((x) => Math.abs(x - mark.x) < 48)) continue;
    labelled.push(mark.x);
    ctx.textAlign = "left";
    ctx.fillStyle = "rgba(11,15,20,0.85)";
    ctx.fillRect(mark.x + 5, MARGIN.top - 12, ctx.measureText(mark.kind).width + 4, 13);
    ctx.fillStyle = COLORS[mark.kind];
    ctx.fillText(mark.kind, mark.x + 7, MARGIN.top - 2);
  }
  canvas.dataset.detections = String(marks.length);
  $("detection-count").textContent = String(marks.length);
  drawTimeAxis(ctx, plotW, height - 4);
}

function drawScores() {
  const { ctx, width, height } = fitCanvas($("scores"));
  const plotW = width - MARGIN.left - MARGIN.right, plotH = height - MARGIN.top - MARGIN.bottom;
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif";
  const yOf = (score) => MARGIN.top + (1 - score) * plotH;
  const n = view.frames.length, columnW = plotW / view.capacity;

  ctx.fillStyle = COLORS.occupied;  // occupied spans
  for (let i = 0; i < n; i++) {
    if (view.frames[i].occupied) ctx.fillRect(xOf(i, plotW) - columnW / 2, MARGIN.top, columnW + 0.5, plotH);
  }
  ctx.textAlign = "right";
  for (const s of [0, 0.5, 1]) {
    ctx.fillStyle = COLORS.grid; ctx.fillRect(MARGIN.left, yOf(s), plotW, 1);
    ctx.fillStyle = COLORS.axis; ctx.fillText(s.toFixed(1), MARGIN.left - 6, yOf(s) + 4);
  }
  const line = (value, color, dash, width) => {
    ctx.strokeStyle = color; ctx.lineWidth = width; ctx.setLineDash(dash);
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const x = xOf(i, plotW), y = yOf(value(view.frames[i]));
      if (i === 0) ctx.moveTo(x, y); else { if (dash.length) ctx.lineTo(x, yOf(value(view.frames[i - 1]))); ctx.lineTo(x, y); }
    }
    ctx.stroke();
    ctx.setLineDash([]);
  };
  line((f) => f.major_threshold, COLORS.major, [6, 4], 1.5);
  line((f) => f.minor_threshold, COLORS.minor, [6, 4], 1.5);
  line((f) => f.score, COLORS.score, [], 1.5);
  drawTimeAxis(ctx, plotW, height - 4);
}

function animate(now) {
  release(now);
  if (view.dirty && view.frames.length) {
    view.dirty = false;
    updateCards(view.frames[view.frames.length - 1]);
    drawSpectrogram();
    drawScores();
  }
  requestAnimationFrame(animate);
}
window.addEventListener("resize", () => { view.dirty = true; });

// --- settings ---
let settings = null;

async function loadSettings() {
  const answer = await fetch("api/settings", { headers: authHeaders });
  if (!answer.ok) { showMessage((await answer.json()).detail, "error"); return; }
  renderSettings(await answer.json());
}

function renderSettings(described) {
  settings = described;
  const minor = described.fields.find((f) => f.key === "minor_threshold");
  view.configuredMinor = minor ? minor.value : null;
  const groups = {};
  for (const field of described.fields) (groups[field.group] ??= []).push(field);
  const box = $("fields");
  box.className = "";
  box.innerHTML = "";
  for (const [group, fields] of Object.entries(groups)) {
    const fieldset = document.createElement("fieldset");
    fieldset.innerHTML = `<legend>${escapeHtml(group)}</legend>`;
    for (const field of fields) {
      const id = `set-${field.section}-${field.key}`;
      const row = document.createElement("div");
      row.className = "field";
      row.title = field.help || "";
      const low = field.ge ?? field.gt, high = field.le ?? field.lt;
      row.innerHTML = `<label for="${id}">${escapeHtml(field.label)}</label>` +
        `<input type="number" id="${id}" step="${field.step}" ${low !== undefined ? `min="${low}"` : ""} ${high !== undefined ? `max="${high}"` : ""}>` +
        `<span class="unit">${escapeHtml(field.unit)}</span>`;
      const input = row.querySelector("input");
      input.value = field.value;
      input.dataset.section = field.section;
      input.dataset.key = field.key;
      input.dataset.original = String(field.value);
      input.addEventListener("input", () => input.classList.toggle("changed", input.value !== input.dataset.original));
      fieldset.append(row);
    }
    box.append(fieldset);
  }
  const routines = $("routines");
  routines.innerHTML = "";
  for (const routine of described.routines) {
    const row = document.createElement("label");
    row.className = "routine-row";
    row.innerHTML = `<input type="checkbox"> <span>${escapeHtml(routine.name)}</span> <span class="muted small">${routine.trigger}</span>`;
    const box = row.querySelector("input");
    box.checked = routine.enabled;
    box.dataset.routine = routine.name;
    box.dataset.original = String(routine.enabled);
    routines.append(row);
  }
  $("routines-box").hidden = described.routines.length === 0;
  const file = $("config-file");
  file.textContent = described.config_file
    ? `saved to ${described.config_file.split("/").pop()}` : "started without --config: changes apply until uspd stops";
  file.title = described.config_file || "";
}

function collectChanges() {
  const changes = {};
  for (const input of document.querySelectorAll("#fields input")) {
    if (input.value === input.dataset.original) continue;
    const number = Number(input.value);
    (changes[input.dataset.section] ??= {})[input.dataset.key] = input.value.trim() === "" || Number.isNaN(number) ? input.value : number;
  }
  for (const box of document.querySelectorAll("#routines input")) {
    if (String(box.checked) !== box.dataset.original) (changes.routines ??= {})[box.dataset.routine] = box.checked;
  }
  return changes;
}

function showMessage(text, kind) {
  const message = $("settings-message");
  message.textContent = text;
  message.className = kind;
}

$("settings").addEventListener("submit", async (e) => {
  e.preventDefault();
  const changes = collectChanges();
  if (!Object.keys(changes).length) { showMessage("nothing changed", ""); return; }
  $("save").disabled = true;
  try {
    const answer = await fetch("api/settings", {
      method: "PUT", headers: { ...authHeaders, "Content-Type": "application/json" }, body: JSON.stringify(changes),
    });
    const body = await answer.json();
    if (!answer.ok) { showMessage(body.detail, "error"); return; }
    renderSettings(body);
    showMessage(body.saved ? "saved and applied" : "applied (not saved: no config file)", "ok");
  } catch (err) {
    showMessage(`could not reach uspd: ${err}`, "error");
  } finally {
    $("save").disabled = false;
  }
});
$("revert").addEventListener("click", () => { renderSettings(settings); showMessage("", ""); });

loadSettings();
connect();
requestAnimationFrame(animate);
