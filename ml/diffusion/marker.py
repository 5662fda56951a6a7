"""The marker every generated PNG carries, so the platform can keep it out of subject sets.

A generated image is written with a PNG ``tEXt`` chunk ``zooloop:generated`` whose
value is JSON (model, step, condition, seed).  The platform's ingest refuses any
image carrying it (:func:`zooapp.services.subjects.image_to_display`).  This module
imports only Pillow, so reading the marker does not load torch.

Examples
--------
>>> import io
>>> from PIL import Image
>>> buf = io.BytesIO()
>>> Image.new("RGB", (4, 4)).save(buf, format="PNG", pnginfo=generated_pnginfo({"seed": 1}))
>>> generated_marker(Image.open(io.BytesIO(buf.getvalue())))
{'seed': 1}
"""
from __future__ import annotations

import json

from PIL import Image, PngImagePlugin

GENERATED_KEY = "zooloop:generated"


def generated_pnginfo(meta: dict) -> PngImagePlugin.PngInfo:
    """PNG text chunks marking an image as generated, with ``meta`` (JSON-serialisable) as the value."""
    info = PngImagePlugin.PngInfo()
    info.add_text(GENERATED_KEY, json.dumps(meta, sort_keys=True))
    return info


def generated_marker(image: Image.Image) -> dict | None:
    """The marker's metadata if ``image`` (opened by Pillow) was generated, else None."""
    raw = image.info.get(GENERATED_KEY)
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except (TypeError, ValueError):
        meta = {"raw": str(raw)}
    return meta if isinstance(meta, dict) else {"value": meta}
