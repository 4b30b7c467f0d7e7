// The console page: camera list with live view on request, and the zone editor.
// No inline code (the CSP forbids it); talks only to this server's /api.
"use strict";

const $ = (id) => document.getElementById(id);
const api = async (path, options) => {
  const response = await fetch(path, Object.assign({credentials: "same-origin"}, options || {}));
  if (response.status === 401) { window.location = "/login"; throw new Error("logged out"); }
  return response;
};

// -- camera list ----------------------------------------------------------------
const cards = {};

function card(id) {
  if (cards[id]) return cards[id];
  const el = document.createElement("article");
  el.className = "camera";
  el.dataset.camera = id;
  el.innerHTML = '<h2></h2><p class="line"></p><img alt="live view (off)">' +
    '<p><button type="button" class="live">Live view</button> ' +
    '<button type="button" class="edit-zones">Edit zones</button></p>';
  el.querySelector("h2").textContent = id;
  const img = el.querySelector("img");
  img.id = "live-" + id;
  const live = el.querySelector(".live");
  live.addEventListener("click", () => {
    const on = !img.getAttribute("src");
    // Removing src closes the stream: the server stops encoding when nobody watches.
    if (on) img.src = "/api/cameras/" + encodeURIComponent(id) + "/live.mjpeg"; else img.removeAttribute("src");
    live.textContent = on ? "Stop live view" : "Live view";
  });
  el.querySelector(".edit-zones").addEventListener("click", () => openEditor(id));
  $("cameras").appendChild(el);
  cards[id] = el;
  return el;
}

function describe(info) {
  const parts = [info.fps !== undefined ? info.fps.toFixed(1) + " fps" : "",
    (info.events || 0) + " event(s)", (info.viewers || 0) + " viewer(s)"];
  if (info.skipped) parts.push(info.skipped + " frame(s) skipped for slow viewers");
  return parts.filter(Boolean).join(", ");
}

async function refresh() {
  let data;
  try { data = await (await api("/api/status")).json(); } catch (e) { $("summary").textContent = "No answer from the detector"; return; }
  for (const [id, info] of Object.entries(data.cameras)) {
    const el = card(id);
    const state = info.console_state;
    el.querySelector(".line").innerHTML = '<span class="state"></span> <span class="figures"></span>';
    const badge = el.querySelector(".state");
    badge.textContent = state;
    badge.className = "state state-" + state;
    el.querySelector(".figures").textContent = describe(info) + (info.fault ? " — " + info.fault : "");
  }
  const link = data.link || {}, outbox = data.outbox || {}, low = data.low_power || {};
  let text = "uploader link " + (link.connected ? "connected" : "NOT connected") +
    ", outbox " + (outbox.items || 0) + " item(s) waiting";
  if (outbox.over_budget) text += ", OVER BUDGET";
  if (low.enabled) text += low.detect_fps ? ", low power: detection at most " + low.detect_fps + " fps (" + low.reason + ")" : ", detection at full rate";
  $("summary").textContent = text;
}

// -- zone editor ----------------------------------------------------------------
const editor = {camera: null, include: [], exclude: [], current: [], mode: "exclude", mask: null, painted: false,
  width: 640, height: 480};

async function openEditor(id) {
  const zones = await (await api("/api/cameras/" + encodeURIComponent(id) + "/zones")).json();
  Object.assign(editor, {camera: id, include: zones.include, exclude: zones.exclude, current: [], painted: false,
    width: zones.width, height: zones.height});
  $("editor-camera").textContent = id;
  $("editor").hidden = false;
  $("zone-message").textContent = zones.editable ? "" : "This detector was started without --config: zones cannot be saved.";
  const canvas = $("zone-canvas");
  canvas.width = zones.width; canvas.height = zones.height;
  // The mask layer: transparent = watched, opaque black = ignored (exported as white/black PNG).
  editor.mask = document.createElement("canvas");
  editor.mask.width = zones.width; editor.mask.height = zones.height;
  if (zones.mask_url) loadMask(zones.mask_url);
  $("editor-picture").src = "/api/cameras/" + encodeURIComponent(id) + "/live.mjpeg";
  draw();
}

function loadMask(url) {
  const image = new Image();
  image.onload = () => {
    const m = editor.mask.getContext("2d");
    m.drawImage(image, 0, 0, editor.width, editor.height);
    const pixels = m.getImageData(0, 0, editor.width, editor.height);
    for (let i = 0; i < pixels.data.length; i += 4) {
      const ignored = pixels.data[i] < 128;
      pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = 0;
      pixels.data[i + 3] = ignored ? 255 : 0;
    }
    m.putImageData(pixels, 0, 0);
    editor.painted = true;
    draw();
  };
  image.src = url;
}

function maskPng() {
  const out = document.createElement("canvas");
  out.width = editor.width; out.height = editor.height;
  const o = out.getContext("2d");
  o.fillStyle = "#fff"; o.fillRect(0, 0, out.width, out.height);
  o.drawImage(editor.mask, 0, 0);
  return out.toDataURL("image/png");
}

function closeEditor() {
  $("editor").hidden = true;
  $("editor-picture").removeAttribute("src");
}

function point(event) {
  const canvas = $("zone-canvas"), box = canvas.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
  return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
}

function polygon(ctx, points, fill, stroke, closed) {
  if (!points.length) return;
  ctx.beginPath();
  points.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x * editor.width, y * editor.height));
  if (closed) { ctx.closePath(); ctx.fillStyle = fill; ctx.fill(); }
  ctx.strokeStyle = stroke; ctx.lineWidth = 2; ctx.stroke();
  points.forEach(([x, y]) => { ctx.fillStyle = stroke; ctx.fillRect(x * editor.width - 3, y * editor.height - 3, 6, 6); });
}

function draw() {
  const ctx = $("zone-canvas").getContext("2d");
  ctx.clearRect(0, 0, editor.width, editor.height);
  if (editor.painted) { ctx.globalAlpha = 0.6; ctx.drawImage(editor.mask, 0, 0); ctx.globalAlpha = 1; }
  editor.include.forEach((p) => polygon(ctx, p, "rgba(40,200,80,0.25)", "#3c6", true));
  editor.exclude.forEach((p) => polygon(ctx, p, "rgba(220,40,40,0.35)", "#e33", true));
  polygon(ctx, editor.current, "", editor.mode === "include" ? "#3c6" : "#e33", false);
}

function finishPolygon() {
  if (editor.current.length < 3) {
    $("zone-message").textContent = "A polygon needs at least 3 points (it has " + editor.current.length + ").";
    return;
  }
  editor[editor.mode === "include" ? "include" : "exclude"].push(editor.current);
  editor.current = [];
  $("zone-message").textContent = "";
  draw();
}

let painting = false, last = null;
function paint(event) {
  const [x, y] = point(event), m = editor.mask.getContext("2d");
  const to = [x * editor.width, y * editor.height], from = last || to;
  m.globalCompositeOperation = event.shiftKey ? "destination-out" : "source-over";  // shift: erase
  m.strokeStyle = "#000"; m.lineCap = "round"; m.lineWidth = Math.max(12, editor.width / 20);
  m.beginPath(); m.moveTo(from[0], from[1]); m.lineTo(to[0], to[1]); m.stroke();
  m.globalCompositeOperation = "source-over";
  last = to;
  editor.painted = true;
  draw();
}

async function save() {
  if (editor.current.length) finishPolygon();
  if (editor.current.length) return;
  const body = {include: editor.include, exclude: editor.exclude,
    mask: editor.painted ? maskPng() : null};
  $("zone-message").textContent = "Saving…";
  const response = await api("/api/cameras/" + encodeURIComponent(editor.camera) + "/zones",
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const answer = await response.json();
  $("zone-message").textContent = response.ok ? answer.message : "Not saved: " + answer.error;
}

document.addEventListener("DOMContentLoaded", () => {
  const canvas = $("zone-canvas");
  canvas.addEventListener("mousedown", (event) => {
    event.preventDefault();  // no text selection while drawing
    if (editor.mode === "paint") { painting = true; last = null; paint(event); return; }
    editor.current.push(point(event));
    draw();
  });
  canvas.addEventListener("mousemove", (event) => { if (painting) paint(event); });
  window.addEventListener("mouseup", () => { painting = false; });
  canvas.addEventListener("dblclick", finishPolygon);
  document.querySelectorAll('input[name="mode"]').forEach((radio) => radio.addEventListener("change", () => {
    editor.mode = radio.value; editor.current = []; draw();
  }));
  $("finish").addEventListener("click", finishPolygon);
  $("undo").addEventListener("click", () => { editor.current.pop(); draw(); });
  $("clear").addEventListener("click", () => {
    Object.assign(editor, {include: [], exclude: [], current: [], painted: false});
    editor.mask.getContext("2d").clearRect(0, 0, editor.width, editor.height);
    draw();
  });
  $("save").addEventListener("click", save);
  $("close-editor").addEventListener("click", closeEditor);
  refresh();
  setInterval(refresh, 2000);
});
