// DWPose Editor node: "Open pose editor" and "Reset edits" buttons. The editor (web/editor/)
// opens in a full-size dialog of its own with what the node's last run sent (input poses and
// backdrop frames as files in ComfyUI's temp folder, the skeleton tables); closing it writes
// the edits into the node's `edits` widget, so the workflow keeps them and re-applies them.
// Only the public extension API is used (registerExtension, node widgets, onExecuted), so it
// works in the classic canvas and in the Vue node frontend alike.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { PoseEditor } from "./editor/dialog.js";

const NODE = "DWPoseEditor";

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
  widget.value = text;
  widget.callback?.(text);
  node.setDirtyCanvas?.(true, true);
  app.graph?.setDirtyCanvas?.(true, true);
}

export async function openEditor(node) {
  const data = node.__dwposeEditor;
  if (!data) {
    notify("Run the workflow once: the editor needs the poses that reach this node.");
    return null;
  }
  let poses;
  try {
    const response = await fetch(viewUrl(data.poses));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    poses = await response.json();
  } catch (error) {
    notify(`The poses of the last run are no longer available (${error.message}); run the workflow again.`);
    return null;
  }
  const editor = new PoseEditor({
    poses,
    tables: data.tables,
    backdrops: (data.backdrops || []).map(viewUrl),
    edits: editsWidget(node)?.value || "",
    title: `DWPose editor · ${node.title || "DWPose Editor"}`,
    onDone: (text, keep) => { if (keep) setEdits(node, text); },
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
      if (data) this.__dwposeEditor = data;
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
