// The pose editor: a full-size dialog drawn on one canvas (backdrop, people, markers), with a
// toolbar, a side panel (selection, parts, shortcuts) and the timeline. No iframe, no network
// beyond the backdrop URLs it is given. Opened by web/dwpose_editor.js; framework-free.
import { Clip, dumpDoc, parseDoc } from "./model.js";
import * as ops from "./ops.js";
import { drawMarkers, drawPerson, hitTest, lineWidths } from "./draw.js";
import { History, View } from "./view.js";
import { Timeline } from "./timeline.js";
import { SHORTCUTS, bindPointer, keepInside, keyHandler } from "./controls.js";

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

let cssLoaded = false;
function loadCss() {
  if (cssLoaded || typeof document === "undefined") return;
  cssLoaded = true;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./editor.css", import.meta.url).href;
  document.head.appendChild(link);
}

const PART_LABELS = { body: "body", feet: "feet", face: "face", left_hand: "left hand", right_hand: "right hand" };

export class PoseEditor {
  // poses: the node's pose file; tables: editor_tables(); backdrops: image URLs (one per frame,
  // or fewer: the last is reused); edits: the widget's JSON text; onDone(text) on close.
  constructor({ poses, tables, backdrops = [], edits = "", onDone = () => {}, title = "DWPose editor" }) {
    this.clip = new Clip(poses, tables, parseDoc(edits));
    this.tables = tables;
    this.backdrops = backdrops;
    this.onDone = onDone;
    this.initial = dumpDoc(this.clip.doc);
    this.frame = 0;
    this.selection = null;
    this.addMode = false;
    this.view = new View();
    this.history = new History();
    this.images = new Map();
    this.drag = null;
    this.pending = false;
    loadCss();
    this.build(title);
  }

  build(title) {
    this.root = el("div", "dwpe-root");
    this.root.setAttribute("role", "dialog");
    this.root.setAttribute("aria-label", title);
    const bar = el("div", "dwpe-bar");
    const button = (text, tip, fn) => {
      const b = el("button", "dwpe-btn", text);
      b.title = tip;
      b.addEventListener("click", () => { fn(); this.canvas.focus(); });
      bar.append(b);
      return b;
    };
    bar.append(el("span", "dwpe-title", title));
    this.buttons = {
      undo: button("↶ Undo", "Undo (Ctrl+Z)", () => this.undo()),
      redo: button("↷ Redo", "Redo (Ctrl+Y)", () => this.redo()),
      add: button("+ Person", "Add a person from the default pose: then click where (A)", () => this.setAddMode(!this.addMode)),
      del: button("✕ Person", "Delete the selected person on this frame (Delete)", () => this.deleteSelected()),
      missing: button("Point missing", "Mark the selected point missing / restore it (H)", () => this.toggleMissing(false)),
      part: button("Part missing", "Mark the selected point's part missing / restore it (P)", () => this.toggleMissing(true)),
      swap: button("⇄ Swap L/R", "Swap left and right labels of the selected person (M)", () => this.mirror(1)),
      mirror: button("◧ Mirror", "Mirror the selected person (Shift+M)", () => this.mirror(2)),
      fit: button("Fit", "Fit the frame (F)", () => this.fit()),
      clear: button("Clear frame", "Clear this frame's edits (K)", () => this.resetFrame()),
      resetAll: button("Reset all", "Remove every edit", () => this.act(() => ops.reset(this.clip))),
    };
    bar.append(el("span", "dwpe-spacer"));
    button("Discard", "Close and drop the changes made since opening", () => this.close(false));
    const done = button("Done", "Close and keep the edits (Enter / Esc)", () => this.close(true));
    done.classList.add("dwpe-primary");
    const main = el("div", "dwpe-main");
    this.wrap = el("div", "dwpe-canvas-wrap");
    this.canvas = el("canvas", "dwpe-canvas");
    this.canvas.tabIndex = 0;
    this.wrap.append(this.canvas);
    this.side = el("div", "dwpe-side");
    this.info = el("div", "dwpe-info");
    this.parts = el("div", "dwpe-parts");
    this.restore = el("select", "dwpe-restore");
    this.restore.title = "Restore a missing point of the selected person";
    this.restore.addEventListener("change", () => {
      const j = Number(this.restore.value);
      if (this.selection && this.restore.value !== "") {
        this.act(() => ops.setMissing(this.clip, this.frame, this.selection.pid, [j], false));
        this.selection.j = j;
      }
    });
    const keys = el("dl", "dwpe-keys");
    for (const [k, v] of SHORTCUTS) keys.append(el("dt", "", k), el("dd", "", v));
    this.side.append(this.info, this.parts, this.restore, el("h4", "", "Keyboard and mouse"), keys);
    main.append(this.wrap, this.side);
    this.timeline = new Timeline(this);
    this.status = el("div", "dwpe-status", "");
    this.root.append(bar, main, this.timeline.root, this.status);
    bindPointer(this, this.canvas);
    this.onKey = keyHandler(this);
    // keyup / keypress too: ComfyUI tracks modifier keys and some shortcuts on them
    this.onOtherKey = (e) => keepInside(e);
    this.resizer = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => this.resize(false)) : null;
  }

  open() {
    document.body.appendChild(this.root);
    window.addEventListener("keydown", this.onKey, true);
    window.addEventListener("keyup", this.onOtherKey, true);
    window.addEventListener("keypress", this.onOtherKey, true);
    this.resizer?.observe(this.wrap);
    this.resize(true);
    this.timeline.setRange(0, this.clip.length - 1);
    this.refresh();
    this.canvas.focus();
    globalThis.__dwposeEditor = this;
    return this;
  }

  close(keep) {
    window.removeEventListener("keydown", this.onKey, true);
    window.removeEventListener("keyup", this.onOtherKey, true);
    window.removeEventListener("keypress", this.onOtherKey, true);
    this.resizer?.disconnect();
    this.root.remove();
    if (globalThis.__dwposeEditor === this) globalThis.__dwposeEditor = null;
    this.onDone(keep ? dumpDoc(this.clip.doc) : this.initial, keep);
  }

  // ------------------------------------------------------------------ state changes
  snapshot() {
    return JSON.stringify(this.clip.doc);
  }

  act(fn) {
    const before = this.snapshot();
    fn();
    if (this.snapshot() !== before) this.history.push(before);
    this.refresh();
  }

  restoreSnapshot(text) {
    if (text === null) return;
    this.clip.setDoc(JSON.parse(text));
    this.refresh();
  }

  undo() { this.restoreSnapshot(this.history.undo(this.snapshot())); }
  redo() { this.restoreSnapshot(this.history.redo(this.snapshot())); }

  setFrame(f) {
    const n = this.clip.length;
    this.frame = Math.min(n - 1, Math.max(0, Math.round(f)));
    this.refresh();
  }

  jumpKey(dir) {
    const keys = this.clip.keyFrames();
    const next = dir > 0 ? keys.find((k) => k > this.frame) : [...keys].reverse().find((k) => k < this.frame);
    if (next !== undefined) this.setFrame(next);
  }

  people() {
    return this.clip.view(this.frame);
  }

  selectNext(dir) {
    const people = this.people();
    if (!people.length) return;
    const i = people.findIndex((p) => p.id === this.selection?.pid);
    const next = people[(i + dir + people.length) % people.length];
    this.selection = { pid: next.id, j: null };
    this.refresh();
  }

  hit(sx, sy, radius) {
    return hitTest(this.people(), this.tables, (x, y) => this.view.toScreen(x, y), sx, sy, radius);
  }

  hover(sx, sy) {
    const hit = this.hit(sx, sy, 10);
    this.canvas.style.cursor = this.addMode ? "crosshair" : hit ? "grab" : "default";
    this.canvas.title = hit ? `${hit.pid} · ${this.tables.names[hit.j]}` : "";
  }

  startDrag(hit, sx, sy) {
    const person = this.people().find((p) => p.id === hit.pid);
    const [cx, cy] = this.view.toCanvas(sx, sy);
    this.drag = { ...hit, before: this.snapshot(), dx: person.kp[2 * hit.j] - cx, dy: person.kp[2 * hit.j + 1] - cy, moved: false };
    this.selection = { pid: hit.pid, j: hit.j };
    this.refresh();
  }

  dragTo(sx, sy) {
    if (!this.drag) return;
    const [cx, cy] = this.view.toCanvas(sx, sy);
    ops.movePoint(this.clip, this.frame, this.drag.pid, this.drag.j, cx + this.drag.dx, cy + this.drag.dy);
    this.drag.moved = true;
    this.redraw();
  }

  endDrag() {
    if (this.drag?.moved) this.history.push(this.drag.before);
    this.drag = null;
    this.refresh();
  }

  setAddMode(on) {
    this.addMode = on;
    this.buttons.add.classList.toggle("dwpe-active", on);
    this.canvas.style.cursor = on ? "crosshair" : "default";
    this.say(on ? "Click where the new person should stand." : "");
  }

  addPersonAt(x, y) {
    const people = this.people();
    const heights = people.map((p) => {
      let lo = Infinity, hi = -Infinity;
      for (let j = 0; j < 17; j++) if (p.sc[j] >= this.tables.threshold) { lo = Math.min(lo, p.kp[2 * j + 1]); hi = Math.max(hi, p.kp[2 * j + 1]); }
      return hi > lo ? (hi - lo) / 0.86 : 0;
    }).filter((h) => h > 0);
    const height = heights.length ? heights.reduce((a, b) => a + b) / heights.length : this.clip.frames[this.frame].h * 0.6;
    let aid;
    this.act(() => { aid = ops.addPerson(this.clip, this.frame, x, y, height); });
    this.selection = { pid: aid, j: null };
    this.setAddMode(false);
    this.refresh();
  }

  deleteSelected() {
    if (!this.selection) return this.say("Select a person first (click one of its points, or Tab).");
    const pid = this.selection.pid;
    this.act(() => ops.deletePerson(this.clip, this.frame, pid));
    this.selection = null;
    this.refresh();
  }

  toggleMissing(wholePart) {
    const sel = this.selection;
    if (!sel || sel.j === null || sel.j === undefined) return this.say("Select a point first.");
    const person = this.clip.person(sel.pid, this.frame);
    if (!person) return;
    const points = wholePart ? ops.partOf(this.clip, sel.j).points : [sel.j];
    const anyPresent = points.some((j) => person.sc[j] >= this.tables.threshold);
    this.act(() => ops.setMissing(this.clip, this.frame, sel.pid, points, anyPresent));
  }

  togglePart(name) {
    const sel = this.selection;
    if (!sel) return;
    const person = this.clip.person(sel.pid, this.frame);
    const [start, stop] = this.tables.parts[name];
    const points = Array.from({ length: stop - start }, (_, i) => start + i);
    const anyPresent = points.some((j) => person.sc[j] >= this.tables.threshold);
    this.act(() => ops.setMissing(this.clip, this.frame, sel.pid, points, anyPresent));
  }

  mirror(mode) {
    if (!this.selection) return this.say("Select a person first (click one of its points, or Tab).");
    const pid = this.selection.pid;
    this.act(() => ops.toggleLR(this.clip, this.frame, pid, mode));
  }

  applyRange() {
    const [a, b] = this.timeline.range();
    this.act(() => ops.applyToRange(this.clip, this.frame, a, b));
    this.say(`Frame ${this.frame}'s edits now cover frames ${Math.min(a, b)}–${Math.max(a, b)}.`);
  }

  resetFrame() {
    this.act(() => ops.reset(this.clip, { frame: this.frame }));
  }

  fit() {
    const f = this.clip.frames[this.frame];
    this.view.fit(f.w, f.h, this.wrap.clientWidth || 800, this.wrap.clientHeight || 600);
    this.redraw();
  }

  zoom(factor) {
    this.view.zoomAt((this.wrap.clientWidth || 800) / 2, (this.wrap.clientHeight || 600) / 2, factor);
    this.redraw();
  }

  say(text) {
    this.message = text;
    this.updateStatus();
  }

  // ------------------------------------------------------------------ drawing
  resize(refit) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, this.wrap.clientWidth), h = Math.max(1, this.wrap.clientHeight);
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = w + "px";
    this.canvas.style.height = h + "px";
    if (refit || !this.view.touched) this.fit(); // until the user zooms or pans, keep the frame fitted
    this.redraw();
  }

  refresh() {
    this.timeline.update();
    this.updatePanel();
    this.updateStatus();
    this.redraw();
  }

  redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.paint();
    });
  }

  backdrop(f) {
    if (!this.backdrops.length) return null;
    const url = this.backdrops[Math.min(f, this.backdrops.length - 1)];
    let img = this.images.get(url);
    if (!img) {
      img = new Image();
      img.onload = () => { if (this.backdrop(this.frame) === img) this.redraw(); };
      img.onerror = () => { img.failed = true; };
      img.src = url;
      this.images.set(url, img);
      if (this.images.size > 48) this.images.delete(this.images.keys().next().value);
    }
    return img.complete && !img.failed && img.naturalWidth ? img : null;
  }

  paint() {
    const ctx = this.canvas.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    const frame = this.clip.frames[this.frame];
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#2a2a2a";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    const v = this.view;
    ctx.setTransform(dpr * v.scale, 0, 0, dpr * v.scale, dpr * v.ox, dpr * v.oy);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, frame.w, frame.h);
    const img = this.backdrop(this.frame);
    if (img) {
      ctx.globalAlpha = 0.75;
      ctx.drawImage(img, 0, 0, frame.w, frame.h);
      ctx.globalAlpha = 1;
    }
    const people = this.people();
    const widths = lineWidths(frame.w, frame.h, this.tables);
    for (const person of people) drawPerson(ctx, person, this.tables, widths);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawMarkers(ctx, people, this.tables, this.clip, this.frame, this.selection, (x, y) => v.toScreen(x, y));
  }

  updatePanel() {
    const sel = this.selection;
    const person = sel ? this.clip.person(sel.pid, this.frame) : null;
    this.parts.replaceChildren();
    this.restore.replaceChildren();
    if (!person) {
      this.info.textContent = sel ? `${sel.pid}: not on this frame` : "Click a point to select its person.";
      this.restore.style.display = "none";
      return;
    }
    const point = sel.j !== null && sel.j !== undefined ? ` · ${this.tables.names[sel.j]}` : "";
    const lr = ["", " · left/right swapped", " · mirrored"][this.clip.value(sel.pid, "lr", this.frame, 0)];
    this.info.textContent = `Person ${sel.pid}${person.added ? " (added)" : ""}${point}${lr}`;
    const missing = [];
    for (const [name, [start, stop]] of Object.entries(this.tables.parts)) {
      let n = 0;
      for (let j = start; j < stop; j++) {
        if (person.sc[j] >= this.tables.threshold) n++;
        else missing.push(j);
      }
      const b = el("button", "dwpe-btn dwpe-part", `${PART_LABELS[name] || name} ${n}/${stop - start}`);
      b.title = n ? "Mark this part missing" : "Restore this part";
      b.addEventListener("click", () => { this.togglePart(name); this.canvas.focus(); });
      this.parts.append(b);
    }
    this.restore.style.display = missing.length ? "" : "none";
    const first = el("option", "", `Restore a missing point (${missing.length})…`);
    first.value = "";
    this.restore.append(first);
    for (const j of missing) {
      const o = el("option", "", this.tables.names[j]);
      o.value = String(j);
      this.restore.append(o);
    }
  }

  updateStatus() {
    const n = ops.editCount(this.clip);
    const undo = this.history.past.length, redo = this.history.future.length;
    this.buttons.undo.disabled = !undo;
    this.buttons.redo.disabled = !redo;
    this.status.textContent = `${n} edited person-frame${n === 1 ? "" : "s"} · ${this.clip.keyFrames().length} key frames` +
      (this.message ? ` · ${this.message}` : "");
  }
}
