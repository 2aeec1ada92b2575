// Pointer (mouse, touch, pen) and keyboard handling of the pose editor dialog.
// Pointer events only: one finger or the left button drags a point or pans; two fingers pinch;
// the wheel zooms; middle/right button always pans.

export const SHORTCUTS = [
  ["Drag a point", "move it (mouse, pen or touch)"],
  ["Drag empty space", "pan · wheel / pinch: zoom"],
  ["← / →", "previous / next frame (Shift: 10)"],
  ["Home / End", "first / last frame"],
  ["[ / ]", "previous / next key frame"],
  ["Tab", "select the next person"],
  ["H", "mark the selected point missing / restore it"],
  ["P", "mark its whole part missing / restore it"],
  ["A", "add a person: click where"],
  ["Delete", "delete the selected person (this frame)"],
  ["M / Shift+M", "swap left/right labels / mirror the person"],
  ["R", "apply this frame's edit to the range"],
  ["K", "clear this frame's edits"],
  ["Ctrl+Z / Ctrl+Y", "undo / redo (also Ctrl+Shift+Z)"],
  ["F or 0", "fit · + / − zoom"],
  ["Enter / Esc", "done (keep edits) · Discard button drops them"],
];

export function bindPointer(editor, canvas) {
  const pointers = new Map();
  let gesture = null;

  const local = (e) => {
    const r = canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };

  canvas.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    canvas.focus?.();
    canvas.setPointerCapture?.(e.pointerId);
    const [sx, sy] = local(e);
    pointers.set(e.pointerId, [sx, sy]);
    if (pointers.size === 2) {
      if (gesture?.kind === "drag") editor.endDrag();
      const [a, b] = [...pointers.values()];
      gesture = { kind: "pinch", dist: Math.hypot(a[0] - b[0], a[1] - b[1]), mid: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] };
      return;
    }
    if (pointers.size > 2) return;
    if (e.button === 1 || e.button === 2) {
      gesture = { kind: "pan", last: [sx, sy] };
      return;
    }
    if (editor.addMode) {
      editor.addPersonAt(...editor.view.toCanvas(sx, sy));
      gesture = null;
      return;
    }
    const hit = editor.hit(sx, sy, e.pointerType === "touch" ? 22 : 10);
    if (hit) {
      editor.startDrag(hit, sx, sy);
      gesture = { kind: "drag" };
    } else {
      gesture = { kind: "pan", last: [sx, sy] };
    }
  });

  canvas.addEventListener("pointermove", (e) => {
    if (!pointers.has(e.pointerId)) {
      editor.hover(...local(e));
      return;
    }
    const [sx, sy] = local(e);
    pointers.set(e.pointerId, [sx, sy]);
    if (!gesture) return;
    if (gesture.kind === "drag") editor.dragTo(sx, sy);
    else if (gesture.kind === "pan") {
      editor.view.pan(sx - gesture.last[0], sy - gesture.last[1]);
      gesture.last = [sx, sy];
      editor.redraw();
    } else if (gesture.kind === "pinch" && pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const dist = Math.hypot(a[0] - b[0], a[1] - b[1]);
      const mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
      editor.view.pan(mid[0] - gesture.mid[0], mid[1] - gesture.mid[1]);
      if (gesture.dist > 0) editor.view.zoomAt(mid[0], mid[1], dist / gesture.dist);
      gesture.dist = dist;
      gesture.mid = mid;
      editor.redraw();
    }
  });

  const end = (e) => {
    pointers.delete(e.pointerId);
    if (gesture?.kind === "drag") editor.endDrag();
    if (pointers.size === 0) gesture = null;
    else if (gesture?.kind === "pinch") gesture = null;
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const [sx, sy] = local(e);
    editor.view.zoomAt(sx, sy, Math.exp(-e.deltaY * 0.0015));
    editor.redraw();
  }, { passive: false });
}

// Keyboard: returns the listener (installed on window, capture phase, while the dialog is open).
// Every key stays inside the editor: ComfyUI's own shortcuts (Ctrl+Z / Ctrl+Y = workflow undo /
// redo, which reloads the graph) must not see keys pressed in the dialog.
export function keepInside(e) {
  e.stopPropagation();
  e.stopImmediatePropagation?.();
}

export function keyHandler(editor) {
  return (e) => {
    const typing = e.target && ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName) && e.target.type !== "range";
    const key = e.key;
    const ctrl = e.ctrlKey || e.metaKey;
    let handled = true;
    if (key === "Escape" || (key === "Enter" && !typing)) editor.close(true);
    else if (typing) handled = false; // the field's own editing (its native undo included)
    else if (ctrl && (key === "z" || key === "Z")) (e.shiftKey ? editor.redo() : editor.undo());
    else if (ctrl && (key === "y" || key === "Y")) editor.redo();
    else if (ctrl) handled = false;
    else if (key === "ArrowLeft") editor.setFrame(editor.frame - (e.shiftKey ? 10 : 1));
    else if (key === "ArrowRight") editor.setFrame(editor.frame + (e.shiftKey ? 10 : 1));
    else if (key === "Home") editor.setFrame(0);
    else if (key === "End") editor.setFrame(editor.clip.length - 1);
    else if (key === "[") editor.jumpKey(-1);
    else if (key === "]") editor.jumpKey(1);
    else if (key === "Tab") editor.selectNext(e.shiftKey ? -1 : 1);
    else if (key === "h" || key === "H") editor.toggleMissing(false);
    else if (key === "p" || key === "P") editor.toggleMissing(true);
    else if (key === "a" || key === "A") editor.setAddMode(!editor.addMode);
    else if (key === "Delete" || key === "Backspace") editor.deleteSelected();
    else if (key === "m") editor.mirror(1);
    else if (key === "M") editor.mirror(2);
    else if (key === "r" || key === "R") editor.applyRange();
    else if (key === "k" || key === "K") editor.resetFrame();
    else if (key === "f" || key === "F" || key === "0") editor.fit();
    else if (key === "+" || key === "=") editor.zoom(1.25);
    else if (key === "-" || key === "_") editor.zoom(0.8);
    else handled = false;
    if (handled) e.preventDefault();
    keepInside(e); // handled or not, typing or not: never ComfyUI's shortcut
  };
}
