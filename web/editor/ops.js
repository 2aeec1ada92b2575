// Editing operations on a Clip's edit document (web/editor/model.js). Each changes
// clip.doc in place and rebuilds the clip's indexes; the dialog snapshots the document before
// each operation for undo. The rules match dwpose_core/edits.py (apply_to_range, reset).

function slot(doc, f, pid) {
  const frame = (doc.keys[String(f)] ||= {});
  return (frame[pid] ||= {});
}

function prune(doc) {
  for (const [f, people] of Object.entries(doc.keys)) {
    for (const [pid, edit] of Object.entries(people)) {
      if (edit.pts && !Object.keys(edit.pts).length) delete edit.pts;
      if (!Object.keys(edit).length) delete people[pid];
    }
    if (!Object.keys(people).length) delete doc.keys[f];
  }
}

function commit(clip) {
  prune(clip.doc);
  clip.setDoc(clip.doc);
}

// Move point j of pid to (x, y) at frame f: a change of the detected point when there is one,
// else an absolute position.
export function movePoint(clip, f, pid, j, x, y) {
  const base = clip.base(pid, f);
  if (!base) return;
  const edit = slot(clip.doc, f, pid);
  edit.pts ||= {};
  edit.pts[j] = clip.present(base.kp, base.sc, j)
    ? { d: [x - base.kp[2 * j], y - base.kp[2 * j + 1]] }
    : { p: [x, y] };
  commit(clip);
}

// The default pose fitted to a person (scale and shift from its present body points), so a
// restored point that the detector never saw lands where it would be on that body.
export function templateFor(clip, person, f) {
  const tpl = clip.tables.default_pose;
  const pairs = [];
  for (let j = 0; j < 17; j++) {
    if (person && clip.present(person.kp, person.sc, j)) pairs.push([tpl[j], [person.kp[2 * j], person.kp[2 * j + 1]]]);
  }
  let scale, cx, cy, tx = 0, ty = 0;
  if (pairs.length >= 2) {
    const mean = (k, i) => pairs.reduce((s, p) => s + p[k][i], 0) / pairs.length;
    tx = mean(0, 0); ty = mean(0, 1); cx = mean(1, 0); cy = mean(1, 1);
    let num = 0, den = 0;
    for (const [t, p] of pairs) {
      num += (p[0] - cx) ** 2 + (p[1] - cy) ** 2;
      den += (t[0] - tx) ** 2 + (t[1] - ty) ** 2;
    }
    scale = den > 0 ? Math.sqrt(num / den) : clip.frames[f].h / 2;
  } else {
    scale = clip.frames[f].h / 2;
    cx = clip.frames[f].w / 2; cy = clip.frames[f].h / 2;
  }
  return tpl.map(([x, y]) => [cx + (x - tx) * scale, cy + (y - ty) * scale]);
}

// Mark points missing (off = true) or restore them (to the detected point, or the fitted
// default pose where the detector has none).
export function setMissing(clip, f, pid, points, off) {
  const base = clip.base(pid, f);
  if (!base) return;
  const edit = slot(clip.doc, f, pid);
  edit.pts ||= {};
  let guess = null;
  for (const j of points) {
    if (off) edit.pts[j] = { off: 1 };
    else if (clip.present(base.kp, base.sc, j)) edit.pts[j] = { d: [0, 0] };
    else {
      guess ||= templateFor(clip, clip.person(pid, f), f);
      edit.pts[j] = { p: guess[j].slice() };
    }
  }
  commit(clip);
}

export function partOf(clip, j) {
  for (const [name, [start, stop]] of Object.entries(clip.tables.parts)) {
    if (j >= start && j < stop) return { name, points: Array.from({ length: stop - start }, (_, i) => start + i) };
  }
  return null;
}

// Add a person from the default pose, `height` canvas px tall, centred at (x, y), on frame f.
export function addPerson(clip, f, x, y, height) {
  let n = 1;
  while (clip.doc.added["a" + n]) n++;
  const aid = "a" + n;
  clip.doc.added[aid] = { base: clip.tables.default_pose.map(([px, py]) => [x + px * height, y + py * height]) };
  slot(clip.doc, f, aid).del = 0;
  commit(clip);
  return aid;
}

// Delete a person at frame f (an added person that exists only there is removed altogether).
export function deletePerson(clip, f, pid) {
  const added = clip.doc.added[pid];
  if (added) {
    const keys = Object.entries(clip.doc.keys).filter(([, people]) => pid in people);
    if (keys.length === 1 && keys[0][0] === String(f)) {
      delete clip.doc.added[pid];
      delete clip.doc.keys[String(f)][pid];
      return commit(clip);
    }
  }
  slot(clip.doc, f, pid).del = 1;
  commit(clip);
}

// Toggle left/right: mode 1 swaps the labels, mode 2 mirrors (reflects and swaps).
export function toggleLR(clip, f, pid, mode) {
  const current = clip.value(pid, "lr", f, 0);
  slot(clip.doc, f, pid).lr = current === mode ? 0 : mode;
  commit(clip);
}

// Carry frame f's edit (key or interpolated) over start..end.
export function applyToRange(clip, f, start, end) {
  [start, end] = start <= end ? [start, end] : [end, start];
  const pids = new Set([...clip.attr.keys(), ...clip.points.keys()].map((k) => k.split("|")[0]));
  const states = new Map();
  for (const pid of [...pids].sort()) {
    const edit = {};
    for (const name of ["del", "lr"]) {
      const keys = clip.attr.get(pid + "|" + name);
      if (keys && keys.length && f >= keys[0][0] && f <= keys[keys.length - 1][0]) edit[name] = clip.value(pid, name, f, 0);
    }
    const pts = {};
    for (const j of clip.edited.get(pid) || []) {
      const state = clip.stateAt(pid, j, f);
      if (state) pts[j] = state;
    }
    if (Object.keys(pts).length) edit.pts = pts;
    if (Object.keys(edit).length) states.set(pid, edit);
  }
  for (const [fk, people] of Object.entries(clip.doc.keys)) {
    if (Number(fk) < start || Number(fk) > end) continue;
    for (const [pid, edit] of states) {
      const old = people[pid];
      if (!old) continue;
      for (const name of ["del", "lr"]) if (name in edit) delete old[name];
      for (const j of Object.keys(edit.pts || {})) if (old.pts) delete old.pts[j];
    }
  }
  for (const fk of new Set([start, end])) {
    for (const [pid, edit] of states) {
      const target = slot(clip.doc, fk, pid);
      for (const name of ["del", "lr"]) if (name in edit) target[name] = edit[name];
      if (edit.pts) target.pts = { ...(target.pts || {}), ...JSON.parse(JSON.stringify(edit.pts)) };
    }
  }
  commit(clip);
}

// Clear all edits, or one frame's, or one person's (on one frame or everywhere).
export function reset(clip, { frame = null, person = null } = {}) {
  if (frame === null && person === null) {
    clip.doc.keys = {};
    clip.doc.added = {};
    return commit(clip);
  }
  for (const [fk, people] of Object.entries(clip.doc.keys)) {
    if (frame !== null && Number(fk) !== frame) continue;
    if (person === null) delete clip.doc.keys[fk];
    else delete people[person];
  }
  if (person !== null && frame === null) delete clip.doc.added[person];
  commit(clip);
}

export function editCount(clip) {
  return Object.values(clip.doc.keys).reduce((n, people) => n + Object.keys(people).length, 0);
}
