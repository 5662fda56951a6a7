// classify/stretch.js: the brightness stretch, contrast and inversion of an 8-bit colour image.
//
// Stretching each of R, G and B on its own turns sky noise into colour confetti: a faint pixel of
// (5, 0, 0) becomes a vivid red. We stretch the luminance only and add back each channel's original
// difference from it: the colour (the chroma vector) stays what the camera saw, bright and faint alike,
// while faint noise brightens to grey instead of to saturated colour.

const CURVES = {
  linear: (v) => v,
  asinh: (v) => Math.asinh(10 * v) / Math.asinh(10),
  log: (v) => Math.log1p(100 * v) / Math.log1p(100),
};

// lum[L]: the stretched, contrasted luminance (0-255) of a pixel of luminance L (0-255).
function luminanceTable(stretch, contrast) {
  const curve = CURVES[stretch] ?? CURVES.linear;
  const lum = new Float32Array(256);
  for (let l = 0; l < 256; l++) lum[l] = 255 * Math.min(1, Math.max(0, 0.5 + (curve(l / 255) - 0.5) * contrast));
  return lum;
}

export function stretchPixels(src, {stretch = "linear", contrast = 1, inverted = false} = {}) {
  const out = new ImageData(src.width, src.height);
  const s = src.data;
  const d = out.data;
  const lum = luminanceTable(stretch, contrast);
  const flip = inverted ? 255 : 0;
  const sign = inverted ? -1 : 1;
  for (let i = 0; i < s.length; i += 4) {
    const l = 0.2126 * s[i] + 0.7152 * s[i + 1] + 0.0722 * s[i + 2];  // Rec. 709 luminance
    const shift = lum[Math.round(l)] - l;
    d[i] = flip + sign * (s[i] + shift);          // Uint8ClampedArray clamps to 0-255 and rounds
    d[i + 1] = flip + sign * (s[i + 1] + shift);
    d[i + 2] = flip + sign * (s[i + 2] + shift);
    d[i + 3] = 255;
  }
  return out;
}
