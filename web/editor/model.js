// The pose editor's data: the input clip, the edit document and the rules that apply it.
// Pure JS (no DOM, no ComfyUI). The same rules as dwpose_core/edits.py, which applies the
// stored document when the workflow runs; the tests check that both give the same numbers.
// Document: {version: 1, added: {aN: {base: [[x, y] x133]}},
//            keys: {"<frame>": {"<person>": {del, lr, pts: {"<j>": {d} | {p} | {off: 1}}}}}}

export function emptyDoc() {
  return { version: 1, added: {}, keys: {} };
}

export function parseDoc(text) {
  if (!text || (typeof text === "string" && !text.trim())) return emptyDoc();
  const doc = typeof text === "string" ? JSON.parse(text) : JSON.parse(JSON.stringify(text));
  return { version: 1, added: doc.added || {}, keys: doc.keys || {} };
}

export function dumpDoc(doc) {
  return Object.keys(doc.keys).length || Object.keys(doc.added).length ? JSON.stringify(doc) : "";
}

const lerp = (a, b, t) => (1 - t) * a + t * b;

// Keys sorted by frame; null outside them; [frame, state] at a key; between two keys the
// earlier key, or with `both` [ka, sa, kb, sb].
function locate(keys, f, both) {
  if (!keys || !keys.length) return null;
  let lo = 0, hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid][0] < f) lo = mid + 1; else hi = mid;
  }
  if (lo < keys.length && keys[lo][0] === f) return keys[lo];
  if (lo === 0 || lo === keys.length) return null;
  return both ? [...keys[lo - 1], ...keys[lo]] : keys[lo - 1];
}

export class Clip {
  // poses: {frames: [{w, h, people: [{id, k: [x, y, s] x133 flat, box}]}]}, tables: editor_tables()
  constructor(poses, tables, doc) {
    this.tables = tables;
    this.n = tables.num_keypoints;
    this.thr = tables.threshold;
    this.mirror = tables.mirror;
    this.frames = poses.frames.map((frame) => ({
      w: frame.w, h: frame.h,
      people: frame.people.map((p) => {
        const kp = new Float64Array(this.n * 2), sc = new Float64Array(this.n);
        for (let j = 0; j < this.n; j++) {
          kp[2 * j] = p.k[3 * j]; kp[2 * j + 1] = p.k[3 * j + 1]; sc[j] = p.k[3 * j + 2];
        }
        return { id: p.id, kp, sc, box: p.box || [0, 0, 0, 0] };
      }),
    }));
    this.byId = this.frames.map((f) => new Map(f.people.map((p) => [p.id, p])));
    this.setDoc(doc || emptyDoc());
  }

  get length() { return this.frames.length; }

  setDoc(doc) {
    this.doc = doc;
    this.attr = new Map();
    this.points = new Map();
    this.edited = new Map();
    const frames = Object.keys(doc.keys).map(Number).sort((a, b) => a - b);
    for (const f of frames) {
      for (const [pid, edit] of Object.entries(doc.keys[String(f)])) {
        for (const name of ["del", "lr"]) {
          if (name in edit) this._push(this.attr, pid + "|" + name, [f, edit[name]]);
        }
        for (const [j, state] of Object.entries(edit.pts || {})) {
          const key = pid + "|" + j;
          if (!this.points.has(key)) {
            if (!this.edited.has(pid)) this.edited.set(pid, []);
            this.edited.get(pid).push(Number(j));
          }
          this._push(this.points, key, [f, state]);
        }
      }
    }
    this.cache = new Map();
  }

  _push(map, key, item) {
    if (!map.has(key)) map.set(key, []);
    map.get(key).push(item);
  }

  keyFrames() {
    return Object.keys(this.doc.keys).map(Number).sort((a, b) => a - b);
  }

  value(pid, name, f, fallback) {
    const where = locate(this.attr.get(pid + "|" + name), f, false);
    return where ? where[1] : fallback;
  }

  present(kp, sc, j) {
    return sc[j] >= this.thr && Number.isFinite(kp[2 * j]) && Number.isFinite(kp[2 * j + 1]);
  }

  // The points the edits of `pid` apply to at frame f ({kp, sc}), after left/right swapping.
  base(pid, f) {
    const key = pid + "@" + f;
    if (this.cache.has(key)) return this.cache.get(key);
    let result = null;
    const added = this.doc.added[pid];
    if (added) {
      const kp = new Float64Array(this.n * 2);
      added.base.forEach(([x, y], j) => { kp[2 * j] = x; kp[2 * j + 1] = y; });
      result = { kp, sc: new Float64Array(this.n).fill(1) };
    } else if (f >= 0 && f < this.frames.length && this.byId[f].has(pid)) {
      const person = this.byId[f].get(pid);
      let kp = person.kp, sc = person.sc;
      const lr = this.value(pid, "lr", f, 0);
      if (lr) {
        const centre = this.centreX(person);
        const kp2 = new Float64Array(this.n * 2), sc2 = new Float64Array(this.n);
        for (let j = 0; j < this.n; j++) {
          const m = this.mirror[j];
          kp2[2 * j] = lr === 2 ? 2 * centre - kp[2 * m] : kp[2 * m];
          kp2[2 * j + 1] = kp[2 * m + 1];
          sc2[j] = sc[m];
        }
        kp = kp2; sc = sc2;
      }
      result = { kp, sc };
    }
    this.cache.set(key, result);
    return result;
  }

  centreX(person) {
    let lo = Infinity, hi = -Infinity;
    for (let j = 0; j < this.n; j++) {
      if (this.present(person.kp, person.sc, j)) {
        lo = Math.min(lo, person.kp[2 * j]); hi = Math.max(hi, person.kp[2 * j]);
      }
    }
    return lo <= hi ? (lo + hi) / 2 : (person.box[0] + person.box[2]) / 2;
  }

  // Where a key puts point j at its own frame (null when its detected point is absent).
  _atKey(pid, j, k, state) {
    if (state.p) return state.p;
    const base = this.base(pid, k);
    if (!base || !this.present(base.kp, base.sc, j)) return null;
    return [base.kp[2 * j] + state.d[0], base.kp[2 * j + 1] + state.d[1]];
  }

  // Apply the edits of pid's point j at frame f to kp/sc (in place).
  editPoint(pid, j, f, kp, sc) {
    const where = locate(this.points.get(pid + "|" + j), f, true);
    if (!where) return;
    const present = this.present(kp, sc, j);
    const place = (xy) => {
      if (!xy) return;
      kp[2 * j] = xy[0]; kp[2 * j + 1] = xy[1];
      if (!present) sc[j] = 1;
    };
    const off = () => { kp[2 * j] = 0; kp[2 * j + 1] = 0; sc[j] = 0; };
    const shift = (d) => { if (present) { kp[2 * j] += d[0]; kp[2 * j + 1] += d[1]; } };
    if (where.length === 2) {
      const state = where[1];
      if (state.off) off(); else if (state.d) shift(state.d); else place(state.p);
      return;
    }
    const [ka, sa, kb, sb] = where;
    if (sa.off) return off();
    if (sb.off) return sa.d ? shift(sa.d) : place(sa.p);
    const t = (f - ka) / (kb - ka);
    if (sa.d && sb.d) return shift([lerp(sa.d[0], sb.d[0], t), lerp(sa.d[1], sb.d[1], t)]);
    let a = this._atKey(pid, j, ka, sa), b = this._atKey(pid, j, kb, sb);
    if (!a && !b) return;
    a = a || b; b = b || a;
    place([lerp(a[0], b[0], t), lerp(a[1], b[1], t)]);
  }

  // One person at frame f with the edits applied, or null (deleted / not there).
  person(pid, f) {
    if (this.value(pid, "del", f, this.doc.added[pid] ? 1 : 0)) return null;
    const base = this.base(pid, f);
    if (!base) return null;
    const kp = Float64Array.from(base.kp), sc = Float64Array.from(base.sc);
    for (const j of this.edited.get(pid) || []) this.editPoint(pid, j, f, kp, sc);
    return { id: pid, kp, sc, added: !!this.doc.added[pid] };
  }

  // Every person of frame f, edited (input people in order, then added ones).
  view(f) {
    const out = [];
    for (const p of this.frames[f].people) {
      const person = this.person(p.id, f);
      if (person) out.push(person);
    }
    for (const aid of this.addedIds()) {
      const person = this.person(aid, f);
      if (person) out.push(person);
    }
    return out;
  }

  addedIds() {
    return Object.keys(this.doc.added).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  }

  // A point's state at frame f made explicit as one key (null: no edit there).
  stateAt(pid, j, f) {
    const where = locate(this.points.get(pid + "|" + j), f, true);
    if (!where) return null;
    if (where.length === 2) return { ...where[1] };
    const [ka, sa, kb, sb] = where;
    if (sa.off || sb.off) return { ...sa };
    const t = (f - ka) / (kb - ka);
    if (sa.d && sb.d) return { d: [lerp(sa.d[0], sb.d[0], t), lerp(sa.d[1], sb.d[1], t)] };
    const base = this.base(pid, f);
    if (!base) return { ...sa };
    const kp = Float64Array.from(base.kp), sc = Float64Array.from(base.sc);
    this.editPoint(pid, j, f, kp, sc);
    return { p: [kp[2 * j], kp[2 * j + 1]] };
  }

  // Whether frame f holds a key of pid's point j (for the editor's markers).
  isKey(pid, j, f) {
    const where = locate(this.points.get(pid + "|" + j), f, true);
    return where ? (where.length === 2 ? "key" : "between") : null;
  }
}
