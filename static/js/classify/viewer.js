// classify/viewer.js: the image viewer: loads a subject's frames onto a canvas, zooms and pans it
// (the stage's CSS transform), applies the brightness stretch and inversion, and flips or plays frames.
// The box tool's SVG sits on the same stage, so it follows every zoom and pan; `onLayout` tells it to redraw.
import {$} from "./dom.js";
import {stretchPixels} from "./stretch.js";

const ZOOM_MIN = 0.5;
const ZOOM_MAX = 40;
export const ZOOM_STEP = 1.25;

export class Viewer {
  constructor({onLayout = () => {}} = {}) {
    this.onLayout = onLayout;
    this.el = $("viewer");
    this.stage = $("stage");
    this.canvas = $("image-canvas");
    this.frames = [];  // [{label, image: HTMLImageElement, data: ImageData}]
    this.frame = 0;
    this.width = 1;
    this.height = 1;
    this.zoom = 1;     // relative to "fit"
    this.tx = 0;
    this.ty = 0;
    this.stretch = "linear";
    this.contrast = 1;
    this.inverted = false;
    this.panMode = false;
    this.spaceHeld = false;
    this.playTimer = null;
  }

  fit() {
    const r = this.el.getBoundingClientRect();
    return Math.min(r.width / this.width, r.height / this.height) || 1;
  }

  scale() { return this.fit() * this.zoom; }

  get zoomed() { return this.zoom > 1.001; }

  // One image pixel to one screen pixel, the annotator's "actual size".
  zoomActual() {
    const r = this.el.getBoundingClientRect();
    this.zoomAt(1 / this.fit() / this.zoom, r.width / 2, r.height / 2);
  }

  reset() {
    this.zoom = 1;
    const r = this.el.getBoundingClientRect();
    const s = this.scale();
    this.tx = (r.width - this.width * s) / 2;
    this.ty = (r.height - this.height * s) / 2;
    this.layout();
  }

  // Zoom by `factor` keeping the image point under (px, py) (viewer coordinates) fixed.
  zoomAt(factor, px, py) {
    const before = this.scale();
    const min = Math.min(ZOOM_MIN, 1 / this.fit());  // 1:1 on a large image lies below the usual minimum
    this.zoom = Math.min(ZOOM_MAX, Math.max(min, this.zoom * factor));
    const after = this.scale();
    this.tx = px - (px - this.tx) * (after / before);
    this.ty = py - (py - this.ty) * (after / before);
    this.layout();
  }

  zoomCentre(factor) {
    const r = this.el.getBoundingClientRect();
    this.zoomAt(factor, r.width / 2, r.height / 2);
  }

  panBy(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.layout();
  }

  layout() {
    const s = this.scale();
    const r = this.el.getBoundingClientRect();
    // Keep at least a quarter of the image on screen so it can never be lost.
    const w = this.width * s;
    const hgt = this.height * s;
    this.tx = Math.min(r.width - w / 4, Math.max(-w * 3 / 4, this.tx));
    this.ty = Math.min(r.height - hgt / 4, Math.max(-hgt * 3 / 4, this.ty));
    const st = this.stage.style;
    st.width = `${w}px`;
    st.height = `${hgt}px`;
    st.transform = `translate(${this.tx}px, ${this.ty}px)`;
    $("zoom-label").textContent = `${Math.round(this.zoom * 100)}%`;
    this.el.classList.toggle("is-zoomed", this.zoomed);
    this.onLayout();
  }

  async load(frames) {
    this.stopPlay();
    this.el.classList.add("is-loading");
    const loaded = await Promise.all(frames.map((f) => new Promise((resolve, reject) => {
      const img = new Image();
      img.decoding = "async";
      img.onload = () => resolve({label: f.label, image: img, data: null});
      img.onerror = () => reject(new Error(`could not load ${f.url}`));
      img.src = f.url;
    })));
    this.frames = loaded;
    this.frame = 0;
    this.width = loaded[0].image.naturalWidth;
    this.height = loaded[0].image.naturalHeight;
    this.canvas.width = this.width;
    this.canvas.height = this.height;
    this.el.classList.remove("is-loading");
    $("flipbook").hidden = loaded.length < 2;
    this.draw();
    this.reset();
  }

  pixels(frame) {
    if (!frame.data && !frame.tainted) {
      const off = document.createElement("canvas");
      off.width = this.width;
      off.height = this.height;
      const ctx = off.getContext("2d", {willReadFrequently: true});
      ctx.drawImage(frame.image, 0, 0, this.width, this.height);
      try {
        frame.data = ctx.getImageData(0, 0, this.width, this.height);
      } catch {
        // An image from another origin without CORS headers: show it, but its pixels cannot be stretched.
        frame.tainted = true;
      }
    }
    return frame.data;
  }

  // Apply the brightness stretch, contrast and inversion to the frame's pixels (stretch.js).
  draw() {
    const frame = this.frames[this.frame];
    if (!frame) return;
    const ctx = this.canvas.getContext("2d");
    const src = this.pixels(frame);
    $("stretch").disabled = !src;
    $("contrast").disabled = !src;
    if (!src) {
      ctx.filter = this.inverted ? "invert(1)" : "none";
      ctx.drawImage(frame.image, 0, 0, this.width, this.height);
      ctx.filter = "none";
      this.el.dataset.frame = frame.label;
      return;
    }
    ctx.putImageData(stretchPixels(src, {stretch: this.stretch, contrast: this.contrast, inverted: this.inverted}), 0, 0);
    const label = this.frames.length > 1 ? `${frame.label} (${this.frame + 1} of ${this.frames.length})` : "";
    $("frame-label").textContent = label;
    this.el.dataset.frame = frame.label;
  }

  showFrame(i) {
    const n = this.frames.length;
    this.frame = ((i % n) + n) % n;
    this.draw();
  }

  togglePlay() {
    if (this.playTimer) { this.stopPlay(); return; }
    this.playTimer = setInterval(() => this.showFrame(this.frame + 1), 700);
    $("frame-play").setAttribute("aria-pressed", "true");
    $("frame-play").setAttribute("aria-label", "Pause frames");
  }

  stopPlay() {
    clearInterval(this.playTimer);
    this.playTimer = null;
    $("frame-play").setAttribute("aria-pressed", "false");
    $("frame-play").setAttribute("aria-label", "Play frames");
  }

  setPanMode(on) {
    this.panMode = on;
    $("pan-mode").setAttribute("aria-pressed", String(on));
    this.el.classList.toggle("is-pan", on);
  }
}

// The toolbar above the image (the keyboard shortcuts for the same actions live in keyboard.js).
export function bindToolbar(viewer) {
  $("zoom-in").addEventListener("click", () => viewer.zoomCentre(ZOOM_STEP));
  $("zoom-out").addEventListener("click", () => viewer.zoomCentre(1 / ZOOM_STEP));
  $("zoom-reset").addEventListener("click", () => viewer.reset());
  $("zoom-actual").addEventListener("click", () => viewer.zoomActual());
  $("pan-mode").addEventListener("click", () => viewer.setPanMode(!viewer.panMode));
  $("invert").addEventListener("click", () => {
    viewer.inverted = !viewer.inverted;
    $("invert").setAttribute("aria-pressed", String(viewer.inverted));
    viewer.draw();
  });
  $("stretch").addEventListener("change", (e) => {
    viewer.stretch = e.target.value;
    viewer.draw();
  });
  $("contrast").addEventListener("input", (e) => {
    viewer.contrast = Number(e.target.value) / 100;
    $("contrast-value").textContent = `${e.target.value}%`;
    viewer.draw();
  });
  $("frame-prev").addEventListener("click", () => { viewer.stopPlay(); viewer.showFrame(viewer.frame - 1); });
  $("frame-next").addEventListener("click", () => { viewer.stopPlay(); viewer.showFrame(viewer.frame + 1); });
  $("frame-play").addEventListener("click", () => viewer.togglePlay());
}
