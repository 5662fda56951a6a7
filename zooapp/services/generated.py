"""Generated galaxies (issue #18) on the platform: shown to admins as examples, never served as subjects.

The ingest guard lives in :func:`zooapp.services.subjects.image_to_display`; this
module reads a model version's generated training images for the models page.
"""
from __future__ import annotations

import base64
import csv
from pathlib import Path

from PIL import Image

from ml.diffusion.marker import generated_marker
from zooapp.models import ModelVersion

MAX_EXAMPLE_BYTES = 200_000


def generated_examples(*, version: ModelVersion, n: int = 4) -> list[dict[str, str]]:
    """Up to ``n`` of the generated images ``version`` trained on, as ``{"src": data URI, "condition"}``.

    Only files that carry the generated marker are shown, so a mislabelled folder of real
    images cannot pass for generated ones; a missing folder gives no examples.
    """
    folder = Path(version.generated_dir) if version.generated_dir else None
    if folder is None or not (folder / "manifest.csv").is_file():
        return []
    with (folder / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    examples = []
    for row in rows:
        path = folder / Path(row.get("file", "")).name
        if len(examples) == n:
            break
        if not path.is_file() or path.suffix.lower() != ".png" or path.stat().st_size > MAX_EXAMPLE_BYTES:
            continue
        with Image.open(path) as img:
            if generated_marker(img) is None:
                continue
        src = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        examples.append({"src": src, "condition": row.get("condition", "")})
    return examples
