// classify/gestures.js: pan, pinch and wheel zoom on the image viewer, and keeping the view fitted when the
// viewer changes size. Single-pointer drawing on the SVG below is the box tool's (boxtool/pointer.js).
//
// Pan and pinch are handled on the viewer in the capture phase, so they win over the box tool
// whenever pan mode is on, Space is held, the middle button is used, or a second finger lands.
// An unzoomed image never pans: a swipe on it scrolls the page (CSS touch-action: pan-y), and the
// wheel zooms only with Ctrl or ⌘ held, as on map widgets, so the page always scrolls past the image.

const HINT_MS = 1500;

export function bindGestures(viewer, tool) {
  const gestures = {viewer, tool, pointers: new Map(), pan: null, pinch: null};
  const el = viewer.el;
  el.addEventListener("pointerdown", (e) => pointerDown(gestures, e), {capture: true});
  el.addEventListener("pointermove", (e) => pointerMove(gestures, e), {capture: true});
  el.addEventListener("pointerup", (e) => endPointer(gestures, e), {capture: true});
  el.addEventListener("pointercancel", (e) => endPointer(gestures, e), {capture: true});
  el.addEventListener("wheel", (e) => wheel(gestures, e), {passive: false});
  el.addEventListener("auxclick", (e) => e.preventDefault());
  new ResizeObserver(() => {
    if (!viewer.frames.length) return;
    if (viewer.zoom === 1) viewer.reset(); else viewer.layout();  // an untouched view stays centred
  }).observe(el);
}

// A trackpad pinch arrives as a wheel event with ctrlKey set, so it zooms too.
function wheel(gestures, e) {
  const {viewer} = gestures;
  if (!(e.ctrlKey || e.metaKey)) {
    viewer.el.classList.add("show-wheel-hint");
    clearTimeout(gestures.hintTimer);
    gestures.hintTimer = setTimeout(() => viewer.el.classList.remove("show-wheel-hint"), HINT_MS);
    return;
  }
  e.preventDefault();
  viewer.el.classList.remove("show-wheel-hint");
  const p = viewerPoint(viewer, e);
  viewer.zoomAt(Math.exp(-e.deltaY * 0.0015), p.x, p.y);
}

function viewerPoint(viewer, e) {
  const r = viewer.el.getBoundingClientRect();
  return {x: e.clientX - r.left, y: e.clientY - r.top};
}

function twoFingers(gestures) {
  const [a, b] = [...gestures.pointers.values()];
  return {dist: Math.hypot(a.x - b.x, a.y - b.y), mid: {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2}};
}

function pointerDown(gestures, e) {
  const {viewer, tool} = gestures;
  if (e.pointerType === "touch") gestures.pointers.set(e.pointerId, viewerPoint(viewer, e));
  if (gestures.pointers.size === 2) {
    tool.cancelGesture();
    gestures.pan = null;
    gestures.pinch = twoFingers(gestures);
    for (const id of gestures.pointers.keys()) {
      try { viewer.el.setPointerCapture(id); } catch { /* pointer gone */ }
    }
    e.stopPropagation();
    e.preventDefault();
    return;
  }
  // Outside a drawing task a drag pans only a zoomed image; an unzoomed one leaves the gesture to the page.
  const wantsPan = viewer.panMode || viewer.spaceHeld || e.button === 1 || (!tool.enabled && viewer.zoomed);
  if (wantsPan && !gestures.pinch) {
    gestures.pan = {id: e.pointerId, last: viewerPoint(viewer, e)};
    viewer.el.setPointerCapture(e.pointerId);
    viewer.el.classList.add("is-panning");
    e.stopPropagation();
    e.preventDefault();
  }
}

function pointerMove(gestures, e) {
  const {viewer} = gestures;
  if (gestures.pointers.has(e.pointerId)) gestures.pointers.set(e.pointerId, viewerPoint(viewer, e));
  if (gestures.pinch && gestures.pointers.size >= 2) {
    const {dist, mid} = twoFingers(gestures);
    viewer.panBy(mid.x - gestures.pinch.mid.x, mid.y - gestures.pinch.mid.y);
    if (gestures.pinch.dist > 0) viewer.zoomAt(dist / gestures.pinch.dist, mid.x, mid.y);
    gestures.pinch = {dist, mid};
    e.stopPropagation();
    return;
  }
  if (gestures.pan && e.pointerId === gestures.pan.id) {
    const p = viewerPoint(viewer, e);
    viewer.panBy(p.x - gestures.pan.last.x, p.y - gestures.pan.last.y);
    gestures.pan.last = p;
    e.stopPropagation();
  }
}

function endPointer(gestures, e) {
  gestures.pointers.delete(e.pointerId);
  if (gestures.pinch) {
    if (gestures.pointers.size < 2) gestures.pinch = null;
    e.stopPropagation();
    return;
  }
  if (gestures.pan && e.pointerId === gestures.pan.id) {
    gestures.pan = null;
    gestures.viewer.el.classList.remove("is-panning");
    e.stopPropagation();
  }
}
