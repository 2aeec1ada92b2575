// Zoom/pan transform between canvas pixels and screen pixels, and the undo history.

export class View {
  constructor() {
    this.scale = 1;
    this.ox = 0;
    this.oy = 0;
    this.touched = false; // true once the user zoomed or panned: resizing then keeps the view
  }

  toScreen(x, y) {
    return [x * this.scale + this.ox, y * this.scale + this.oy];
  }

  toCanvas(sx, sy) {
    return [(sx - this.ox) / this.scale, (sy - this.oy) / this.scale];
  }

  // Fit a w x h canvas into a boxW x boxH area with a margin.
  fit(w, h, boxW, boxH, margin = 16) {
    this.scale = Math.max(1e-3, Math.min((boxW - 2 * margin) / w, (boxH - 2 * margin) / h));
    this.ox = (boxW - w * this.scale) / 2;
    this.oy = (boxH - h * this.scale) / 2;
    this.touched = false;
  }

  // Zoom by `factor` keeping the canvas point under (sx, sy) in place.
  zoomAt(sx, sy, factor) {
    const [x, y] = this.toCanvas(sx, sy);
    this.touched = true;
    this.scale = Math.min(64, Math.max(0.02, this.scale * factor));
    this.ox = sx - x * this.scale;
    this.oy = sy - y * this.scale;
  }

  pan(dx, dy) {
    if (dx || dy) this.touched = true;
    this.ox += dx;
    this.oy += dy;
  }
}

// Snapshots of the edit document (JSON text); `limit` steps back.
export class History {
  constructor(limit = 200) {
    this.limit = limit;
    this.past = [];
    this.future = [];
  }

  push(snapshot) {
    if (this.past[this.past.length - 1] === snapshot) return;
    this.past.push(snapshot);
    if (this.past.length > this.limit) this.past.shift();
    this.future = [];
  }

  undo(current) {
    if (!this.past.length) return null;
    this.future.push(current);
    return this.past.pop();
  }

  redo(current) {
    if (!this.future.length) return null;
    this.past.push(current);
    return this.future.pop();
  }
}
