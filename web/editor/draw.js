// Drawing people like dwpose_core/render.py (OpenPose conventions), from the tables the node
// sends (dwpose_core/edit_tables.editor_tables), on a 2D context whose transform maps canvas
// pixels to the screen. Plus hit testing and the editor's markers. No DOM access.

const rgb = (c, k = 1) => `rgb(${Math.round(c[0] * k)},${Math.round(c[1] * k)},${Math.round(c[2] * k)})`;

// render.line_widths for a canvas of w x h (the editor draws at the canvas size).
export function lineWidths(w, h, tables) {
  const ref = tables.widths;
  const s = Math.min(w, h) / ref.reference_short_side;
  const scaled = (v) => Math.max(1, Math.floor(v * s + 0.5));
  return {
    stick: scaled(ref.stick), joint: scaled(ref.joint_radius), handLine: scaled(ref.hand_line),
    handPoint: scaled(ref.hand_point_radius), face: scaled(ref.face_radius),
  };
}

// OpenPose-18 body of a person: [points [x, y] x18, present bool x18] (neck = shoulder midpoint).
export function openpose18(person, tables, present) {
  const pts = [], ok = [];
  const [ls, rs] = tables.shoulders;
  tables.openpose_from_coco.forEach((coco, i) => {
    if (coco === null) {
      const both = present(ls) && present(rs);
      ok[i] = both;
      pts[i] = both ? [(person.kp[2 * ls] + person.kp[2 * rs]) / 2, (person.kp[2 * ls + 1] + person.kp[2 * rs + 1]) / 2] : [0, 0];
    } else {
      ok[i] = present(coco);
      pts[i] = [person.kp[2 * coco], person.kp[2 * coco + 1]];
    }
  });
  return [pts, ok];
}

function limb(ctx, a, b, width, color) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.ellipse((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, Math.max(Math.hypot(dx, dy) / 2, 0.01), width, Math.atan2(dy, dx), 0, 2 * Math.PI);
  ctx.fill();
}

function dot(ctx, p, r, color) {
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(p[0], p[1], r, 0, 2 * Math.PI);
  ctx.fill();
}

// Draw one person: body limbs, feet, body joints, hands, face (the renderer's order).
export function drawPerson(ctx, person, tables, widths, alpha = 1) {
  const thr = tables.threshold;
  const present = (j) => person.sc[j] >= thr && Number.isFinite(person.kp[2 * j]);
  const at = (j) => [person.kp[2 * j], person.kp[2 * j + 1]];
  ctx.globalAlpha = alpha;
  const [body, ok] = openpose18(person, tables, present);
  tables.limbs.forEach(([a, b], i) => {
    if (ok[a] && ok[b]) limb(ctx, body[a], body[b], widths.stick, rgb(tables.colors[i], tables.limb_shade));
  });
  tables.foot_edges.forEach(([ankle, toe], i) => {
    if (present(ankle) && present(toe)) limb(ctx, at(ankle), at(toe), widths.stick, rgb(tables.foot_edge_colors[i], tables.limb_shade));
  });
  tables.foot_edges.forEach(([, toe], i) => { if (present(toe)) dot(ctx, at(toe), widths.joint, rgb(tables.foot_edge_colors[i])); });
  tables.colors.forEach((c, j) => { if (ok[j]) dot(ctx, body[j], widths.joint, rgb(c)); });
  ctx.lineWidth = widths.handLine;
  for (const part of ["left_hand", "right_hand"]) {
    const start = tables.parts[part][0];
    tables.hand_edges.forEach(([a, b], i) => {
      if (present(start + a) && present(start + b)) {
        ctx.strokeStyle = rgb(tables.hand_edge_colors[i]);
        ctx.beginPath();
        ctx.moveTo(...at(start + a));
        ctx.lineTo(...at(start + b));
        ctx.stroke();
      }
    });
    for (let k = 0; k < 21; k++) if (present(start + k)) dot(ctx, at(start + k), widths.handPoint, rgb(tables.hand_point_color));
  }
  const [f0, f1] = tables.parts.face;
  for (let k = f0; k < f1; k++) if (present(k)) dot(ctx, at(k), widths.face, rgb(tables.face_point_color));
  ctx.globalAlpha = 1;
}

// The present point nearest (sx, sy) in screen pixels within `radius`: {pid, j, dist} or null.
export function hitTest(people, tables, toScreen, sx, sy, radius) {
  let best = null;
  for (const person of people) {
    for (let j = 0; j < tables.num_keypoints; j++) {
      if (!(person.sc[j] >= tables.threshold)) continue;
      const [x, y] = toScreen(person.kp[2 * j], person.kp[2 * j + 1]);
      const dist = Math.hypot(x - sx, y - sy);
      if (dist <= radius && (!best || dist < best.dist)) best = { pid: person.id, j, dist };
    }
  }
  return best;
}

export function personBox(person, tables) {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (let j = 0; j < tables.num_keypoints; j++) {
    if (!(person.sc[j] >= tables.threshold)) continue;
    const x = person.kp[2 * j], y = person.kp[2 * j + 1];
    x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x); y2 = Math.max(y2, y);
  }
  return x1 <= x2 ? [x1, y1, x2, y2] : null;
}

// Editor markers in screen space: the selected person's box, rings on edited points
// (solid yellow: a key on this frame; dashed cyan: interpolated), the selected point.
export function drawMarkers(ctx, people, tables, clip, frame, selection, toScreen) {
  for (const person of people) {
    const selected = selection && selection.pid === person.id;
    if (selected) {
      const box = personBox(person, tables);
      if (box) {
        const [x1, y1] = toScreen(box[0], box[1]), [x2, y2] = toScreen(box[2], box[3]);
        ctx.setLineDash([5, 4]);
        ctx.strokeStyle = "rgba(255,255,255,0.7)";
        ctx.lineWidth = 1;
        ctx.strokeRect(x1 - 8, y1 - 8, x2 - x1 + 16, y2 - y1 + 16);
        ctx.setLineDash([]);
      }
    }
    for (const j of clip.edited.get(person.id) || []) {
      const kind = clip.isKey(person.id, j, frame);
      if (!kind || !(person.sc[j] >= tables.threshold)) continue;
      const [x, y] = toScreen(person.kp[2 * j], person.kp[2 * j + 1]);
      ctx.strokeStyle = kind === "key" ? "#ffd400" : "#4fd8ff";
      ctx.setLineDash(kind === "key" ? [] : [2, 2]);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(x, y, 7, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    if (selected && selection.j !== null && selection.j !== undefined && person.sc[selection.j] >= tables.threshold) {
      const [x, y] = toScreen(person.kp[2 * selection.j], person.kp[2 * selection.j + 1]);
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x, y, 9, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }
}
