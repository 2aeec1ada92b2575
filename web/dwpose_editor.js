// DWPose Editor node: "Open pose editor" and "Reset edits" buttons. The editor (web/editor/)
// opens in a full-size dialog of its own with what the node's last run sent (input poses and
// backdrop frames as files in ComfyUI's temp folder, the skeleton tables); closing it writes
// the edits into the node's `edits` widget, so the workflow keeps them and re-applies them.
// Only the public extension API is used (registerExtension, node widgets, onExecuted), so it
// works in the classic canvas and in the Vue node frontend alike.
// ComfyUI sends a node's UI output only when it runs it (or, for output nodes, again from its
// cache), so the file references of the last run are also kept in node.properties: they are
// saved with the workflow, and after a reload the editor opens from the same temp files, as long
// as the server still has them (it clears its temp folder when it restarts).
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { PoseEditor } from "./editor/dialog.js";

const NODE = "DWPoseEditor";
export const LAST_RUN = "dwpose_editor_last_run"; // node.properties key: the last run's file references
export const GONE = "This node's last run is no longer on the server: queue the workflow, then open the editor.";

function viewUrl(ref) {
  const query = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder || "", type: ref.type || "temp" });
  return api.apiURL(`/view?${query}`);
}

function notify(text) {
  const toast = app.extensionManager?.toast;
  if (toast?.add) toast.add({ severity: "info", summary: "DWPose Editor", detail: text, life: 5000 });
  else window.alert(text);
}

function editsWidget(node) {
  return node.widgets?.find((w) => w.name === "edits");
}

function setEdits(node, text) {
  const widget = editsWidget(node);
  if (!widget || widget.value === text) return;
  // before/after-change: the frontend records an undo step and saves the workflow's new state
  // (otherwise only the next mouse-up or key press on the page would, and a reload lost the edits)
  app.canvas?.emitBeforeChange?.();
  try {
    const old = widget.value;
    widget.value = text;
    widget.callback?.(text);
    node.onWidgetChanged?.(widget.name, text, old, widget);
  } finally {
    app.canvas?.emitAfterChange?.();
  }
  node.setDirtyCanvas?.(true, true);
  app.graph?.setDirtyCanvas?.(true, true);
}

// What the workflow keeps of a run: file references only (no tables, no poses). A clip's
// backdrops, named <stem>_00000.jpg, <stem>_00001.jpg, ..., are kept as their stem and count.
export function lastRunOf(data) {
  const ref = (r) => r && typeof r.filename === "string"
    ? { filename: r.filename, subfolder: r.subfolder || "", type: r.type || "temp" } : null;
  const poses = ref(data?.poses);
  if (!poses) return null;
  const record = { version: 1, frames: data.frames, width: data.width, height: data.height, poses,
                   tables: ref(data.tables_file) };
  const backdrops = (data.backdrops || []).map(ref).filter(Boolean);
  const first = backdrops[0];
  const match = first && /^(.*)_00000\.jpg$/.exec(first.filename);
  const stem = match?.[1];
  if (stem && backdrops.every((r, i) => r.subfolder === first.subfolder && r.type === first.type &&
                                         r.filename === `${stem}_${String(i).padStart(5, "0")}.jpg`)) {
    record.backdrops = { stem, count: backdrops.length, subfolder: first.subfolder, type: first.type };
  } else {
    record.backdrops = backdrops;
  }
  return record;
}

function backdropsOf(record) {
  const b = record.backdrops;
  if (Array.isArray(b)) return b;
  if (!b || !b.stem || !(b.count > 0)) return [];
  return Array.from({ length: b.count }, (_, i) => ({
    filename: `${b.stem}_${String(i).padStart(5, "0")}.jpg`, subfolder: b.subfolder || "", type: b.type || "temp",
  }));
}

async function fetchJson(ref) {
  const response = await fetch(viewUrl(ref), { cache: "no-store" });
  if (!response.ok) {
    const error = new Error(`HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// The data to open the editor with: this page's last onExecuted message, or else the references
// the workflow kept (node.properties) with the skeleton tables fetched from their file.
async function runData(node) {
  if (node.__dwposeEditor) return node.__dwposeEditor;
  const record = node.properties?.[LAST_RUN];
  if (!record?.poses) return null;
  if (!record.tables) return { missing: true }; // saved by a version that did not write the tables file
  const tables = await fetchJson(record.tables);
  return { ...record, tables, backdrops: backdropsOf(record), restored: true };
}

// The node as the graph has it now. While the dialog is open the workflow may be reloaded (an undo
// or redo that reached ComfyUI, another tab's change, a workflow switch): the node object the
// dialog was opened from is then detached, and writing into it would lose the edits without a
// word. So Done looks the node up again by its id.
export function liveNode(node) {
  const graphs = [node.graph, app.graph].filter((g) => typeof g?.getNodeById === "function");
  if (!graphs.length) return node; // no graph to ask (early start-up)
  for (const graph of graphs) {
    const found = graph.getNodeById(node.id);
    if (found && (found.type ?? NODE) === (node.type ?? NODE)) return found;
  }
  return null;
}

export const LOST = "The DWPose Editor node is no longer in the workflow (it was removed or the workflow was reloaded): "
  + "the edits were not saved. They were copied to the clipboard where the browser allows it.";

function keepEdits(node, text) {
  const target = liveNode(node);
  if (!target) {
    navigator.clipboard?.writeText?.(text).catch(() => {});
    notify(LOST);
    return false;
  }
  setEdits(target, text);
  return true;
}

export async function openEditor(node) {
  let data;
  try {
    data = await runData(node);
  } catch (error) {
    notify(error.status === 404 ? GONE : `The editor could not read the last run's files (${error.message}): queue the workflow again.`);
    return null;
  }
  if (!data) {
    notify("Run the workflow once: the editor needs the poses that reach this node.");
    return null;
  }
  if (data.missing) {
    notify(GONE);
    return null;
  }
  let poses;
  try {
    poses = await fetchJson(data.poses);
  } catch (error) {
    notify(error.status === 404 ? GONE
      : `The poses of the last run could not be read (${error.message}): queue the workflow again.`);
    return null;
  }
  const editor = new PoseEditor({
    poses,
    tables: data.tables,
    backdrops: (data.backdrops || []).map(viewUrl),
    edits: editsWidget(node)?.value || "",
    title: `DWPose editor · ${node.title || "DWPose Editor"}`,
    onDone: (text, keep) => { if (keep) keepEdits(node, text); },
  });
  return editor.open();
}

function addButtons(node) {
  if (node.__dwposeButtons) return;
  node.__dwposeButtons = true;
  const open = node.addWidget("button", "Open pose editor", null, () => { openEditor(node); }, { serialize: false });
  const reset = node.addWidget("button", "Reset edits", null, () => setEdits(node, ""), { serialize: false });
  for (const widget of [open, reset]) if (widget) widget.serialize = false;
}

app.registerExtension({
  name: "dwpose.editor",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData?.name !== NODE) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      addButtons(this);
      return result;
    };
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const data = message?.dwpose_editor?.[0];
      if (data) {
        this.__dwposeEditor = data;
        const record = lastRunOf(data);
        this.properties = this.properties || {};
        // the same inputs give the same file names: leave the workflow unchanged then
        if (record && JSON.stringify(this.properties[LAST_RUN]) !== JSON.stringify(record)) {
          this.properties[LAST_RUN] = record;
        }
      }
    };
    const onDblClick = nodeType.prototype.onDblClick;
    nodeType.prototype.onDblClick = function (event, pos) {
      if (Array.isArray(pos) && pos[1] > 0) { // the body, not the title (which renames)
        openEditor(this);
        return true;
      }
      return onDblClick?.apply(this, arguments);
    };
  },
});
