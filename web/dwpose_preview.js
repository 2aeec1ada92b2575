// Pure helpers for the DWPose node preview: no ComfyUI imports, so they can be tested with node.
// The summary comes from the node's UI output (nodes/summary.py): per-frame counts and drawing
// commands in canvas pixels; no skeleton table is repeated here.

export function summaryLines(summary) {
  if (!summary || !Array.isArray(summary.counts)) return ["no poses"];
  const counts = summary.counts;
  const parts = summary.parts || ["body", "hands", "face", "feet"];
  const frames = summary.frames ?? counts.length;
  const people = counts.map((row) => row[0]);
  const min = people.length ? Math.min(...people) : 0;
  const max = people.length ? Math.max(...people) : 0;
  const empty = people.filter((n) => n === 0).length;
  const lines = [];
  lines.push(
    `${frames} frame${frames === 1 ? "" : "s"} · people ${min === max ? min : `${min}–${max}`} per frame` +
      (empty && frames > 1 ? ` · ${empty} without people` : "")
  );
  const totals = parts.map((name, i) => {
    const withPart = counts.filter((row) => row[i + 1] > 0).length;
    return withPart ? `${name} ${frames > 1 ? `${withPart}/${frames}` : "✓"}` : null;
  });
  const present = totals.filter(Boolean);
  lines.push(present.length ? `parts: ${present.join(", ")}` : "parts: none");
  return lines;
}

// Fit a width x height canvas into a box, keeping the aspect ratio; returns scale and offsets.
export function fit(width, height, boxW, boxH) {
  const s = Math.min(boxW / Math.max(width, 1), boxH / Math.max(height, 1));
  return { s, ox: (boxW - width * s) / 2, oy: (boxH - height * s) / 2 };
}

// Draw one preview (lines, then points) on a 2D context within a boxW x boxH area.
export function drawPreview(ctx, preview, boxW, boxH) {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, boxW, boxH);
  if (!preview) return;
  const { s, ox, oy } = fit(preview.width, preview.height, boxW, boxH);
  ctx.strokeStyle = "#333";
  ctx.strokeRect(ox + 0.5, oy + 0.5, preview.width * s - 1, preview.height * s - 1);
  ctx.lineWidth = Math.max(1.5, 3 * s * (Math.min(preview.width, preview.height) / 512));
  ctx.lineCap = "round";
  for (const [x1, y1, x2, y2, color] of preview.lines || []) {
    ctx.strokeStyle = color;
    ctx.beginPath();
    ctx.moveTo(ox + x1 * s, oy + y1 * s);
    ctx.lineTo(ox + x2 * s, oy + y2 * s);
    ctx.stroke();
  }
  const r = Math.max(1.2, ctx.lineWidth * 0.6);
  for (const [x, y, color] of preview.points || []) {
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(ox + x * s, oy + y * s, r, 0, 2 * Math.PI);
    ctx.fill();
  }
}

// People per frame as a strip of bars (long clips: one glance shows where people are missing).
export function drawStrip(ctx, counts, width, height, current) {
  ctx.fillStyle = "#111";
  ctx.fillRect(0, 0, width, height);
  if (!counts || !counts.length) return;
  const max = Math.max(1, ...counts.map((row) => row[0]));
  const w = width / counts.length;
  counts.forEach((row, i) => {
    const h = (row[0] / max) * (height - 2);
    ctx.fillStyle = row[0] === 0 ? "#a33" : "#4a8";
    ctx.fillRect(i * w, height - Math.max(h, row[0] === 0 ? 2 : 0), Math.max(w - (w > 3 ? 1 : 0), 1), Math.max(h, row[0] === 0 ? 2 : 0));
  });
  if (current != null) {
    ctx.fillStyle = "#fff";
    ctx.fillRect((current + 0.5) * w - 1, 0, 2, height);
  }
}
