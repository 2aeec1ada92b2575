// DWPose frontend: after a run, the estimator / render / JSON nodes show a small keypoint preview
// and a per-frame summary (people found, parts present) taken from the node's UI output.
// Plain JS, no build step. The preview widget is never serialised, so saved widget values keep
// their positions.
import { app } from "../../scripts/app.js";
import { drawPreview, drawStrip, summaryLines } from "./dwpose_preview.js";

const NODES = new Set(["DWPoseEstimator", "DWPoseRender", "DWPoseLoadJSON", "DWPoseSaveJSON"]);
const PREVIEW_H = 200;
const STRIP_H = 14;

function ensureWidget(node) {
  if (node.__dwpose) return node.__dwpose;
  const root = document.createElement("div");
  root.style.cssText = "display:flex;flex-direction:column;gap:3px;font:11px sans-serif;color:#ccc;";
  const canvas = document.createElement("canvas");
  canvas.style.cssText = "width:100%;cursor:pointer;border-radius:4px;";
  canvas.title = "Click to show the next previewed frame";
  const strip = document.createElement("canvas");
  strip.style.cssText = "width:100%;height:" + STRIP_H + "px;";
  strip.title = "People per frame (red: none)";
  const text = document.createElement("div");
  text.style.cssText = "white-space:pre-wrap;line-height:1.3;";
  root.append(canvas, strip, text);
  const state = { root, canvas, strip, text, summary: null, index: 0 };
  canvas.addEventListener("click", () => {
    const n = state.summary?.previews?.length || 0;
    if (n > 1) {
      state.index = (state.index + 1) % n;
      paint(state);
    }
  });
  if (typeof node.addDOMWidget === "function") {
    const widget = node.addDOMWidget("dwpose_preview", "dwpose_preview", root, {
      serialize: false,
      hideOnZoom: false,
      getMinHeight: () => PREVIEW_H + STRIP_H + 40,
    });
    widget.serialize = false;
    widget.computeSize = (width) => [width, PREVIEW_H + STRIP_H + 44];
  }
  node.__dwpose = state;
  return state;
}

function paint(state) {
  const { canvas, strip, text, summary } = state;
  const previews = summary?.previews || [];
  const preview = previews[state.index];
  const width = Math.max(120, Math.round(canvas.clientWidth || 240));
  const dpr = window.devicePixelRatio || 1;
  canvas.width = width * dpr;
  canvas.height = PREVIEW_H * dpr;
  canvas.style.height = PREVIEW_H + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  drawPreview(ctx, preview, width, PREVIEW_H);
  strip.width = width * dpr;
  strip.height = STRIP_H * dpr;
  const sctx = strip.getContext("2d");
  sctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  drawStrip(sctx, summary?.counts, width, STRIP_H, preview?.frame);
  const lines = summaryLines(summary);
  if (preview && (summary?.frames ?? 0) > 1) {
    lines.push(`showing frame ${preview.frame}` + (previews.length > 1 ? " (click for the next)" : ""));
  }
  text.textContent = lines.join("\n");
}

app.registerExtension({
  name: "dwpose.preview",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!NODES.has(nodeData?.name)) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const summary = message?.dwpose?.[0];
      if (!summary) return;
      const state = ensureWidget(this);
      state.summary = summary;
      state.index = 0;
      requestAnimationFrame(() => paint(state));
      const size = this.computeSize?.();
      if (size) this.setSize([Math.max(this.size[0], size[0]), Math.max(this.size[1], size[1])]);
      this.setDirtyCanvas?.(true, true);
    };
  },
});
