// The clip's timeline: a scrubber (one range input), the frame number, key-frame jumps and
// a strip canvas with the key frames and the apply range. No per-frame DOM nodes.

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

export class Timeline {
  constructor(editor) {
    this.editor = editor;
    const n = editor.clip.length;
    this.root = el("div", "dwpe-timeline");
    this.strip = el("canvas", "dwpe-strip");
    this.strip.title = "Key frames (yellow) and the apply range (blue); click to go to a frame";
    this.slider = el("input", "dwpe-slider");
    Object.assign(this.slider, { type: "range", min: "0", max: String(Math.max(0, n - 1)), step: "1", value: "0" });
    this.slider.setAttribute("aria-label", "Frame");
    this.label = el("span", "dwpe-frame", "");
    const button = (text, title, fn) => {
      const b = el("button", "dwpe-btn", text);
      b.title = title;
      b.addEventListener("click", fn);
      return b;
    };
    const row = el("div", "dwpe-row");
    row.append(
      button("|◀", "First frame (Home)", () => editor.setFrame(0)),
      button("◆◀", "Previous key frame ([)", () => editor.jumpKey(-1)),
      button("◀", "Previous frame (←)", () => editor.setFrame(editor.frame - 1)),
      this.slider,
      button("▶", "Next frame (→)", () => editor.setFrame(editor.frame + 1)),
      button("▶◆", "Next key frame (])", () => editor.jumpKey(1)),
      button("▶|", "Last frame (End)", () => editor.setFrame(n - 1)),
      this.label,
    );
    const range = el("div", "dwpe-row dwpe-range");
    this.from = el("input", "dwpe-num");
    this.to = el("input", "dwpe-num");
    for (const input of [this.from, this.to]) {
      Object.assign(input, { type: "number", min: "0", max: String(n - 1), step: "1" });
      input.addEventListener("input", () => this.draw());
    }
    this.from.value = "0";
    this.to.value = String(n - 1);
    this.from.setAttribute("aria-label", "Range start");
    this.to.setAttribute("aria-label", "Range end");
    this.apply = button("Apply to range (R)", "Carry this frame's edits over the frames from..to", () => editor.applyRange());
    range.append(el("span", "", "Apply this frame's edit to frames"), this.from, el("span", "", "to"), this.to, this.apply);
    this.root.append(this.strip, row, range);
    if (n <= 1) range.style.display = "none";
    this.slider.addEventListener("input", () => editor.setFrame(Number(this.slider.value)));
    this.strip.addEventListener("pointerdown", (e) => {
      const r = this.strip.getBoundingClientRect();
      editor.setFrame(Math.round(((e.clientX - r.left) / Math.max(1, r.width)) * (n - 1)));
    });
  }

  range() {
    const n = this.editor.clip.length;
    const clamp = (v) => Math.min(n - 1, Math.max(0, Math.round(Number(v) || 0)));
    return [clamp(this.from.value), clamp(this.to.value)];
  }

  setRange(start, end) {
    this.from.value = String(start);
    this.to.value = String(end);
    this.draw();
  }

  update() {
    const { frame, clip } = this.editor;
    this.slider.value = String(frame);
    const key = clip.doc.keys[String(frame)] ? " ◆ key frame" : "";
    this.label.textContent = `frame ${frame} / ${clip.length - 1}${key}`;
    this.draw();
  }

  draw() {
    const { frame, clip } = this.editor;
    const n = clip.length;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(50, this.strip.clientWidth || 600), h = 14;
    if (this.strip.width !== Math.round(w * dpr)) this.strip.width = Math.round(w * dpr);
    this.strip.height = Math.round(h * dpr);
    const ctx = this.strip.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#1b1b1b";
    ctx.fillRect(0, 0, w, h);
    const x = (f) => (n > 1 ? (f / (n - 1)) * (w - 2) + 1 : w / 2);
    const [a, b] = this.range();
    ctx.fillStyle = "rgba(70,140,255,0.35)";
    ctx.fillRect(x(Math.min(a, b)) - 1, 0, Math.max(2, x(Math.max(a, b)) - x(Math.min(a, b)) + 2), h);
    ctx.fillStyle = "#ffd400";
    for (const f of clip.keyFrames()) ctx.fillRect(x(f) - 1, 2, 2, h - 4);
    ctx.fillStyle = "#fff";
    ctx.fillRect(x(frame) - 1, 0, 2, h);
  }
}
