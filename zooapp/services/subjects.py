"""Subjects in: image files with a manifest, FITS with their WCS, and synthetic surveys with truth."""
from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, UnidentifiedImageError

from ml.diffusion.marker import GENERATED_KEY, generated_marker
from zooapp.errors import ValidationFailed
from zooapp.models import GoldAnswer, Subject, SubjectFrame, SubjectSet, SubjectTruth, Workflow

SIMULATOR_SIZE = 64  # pixels: the loop simulator's galaxies (the demo asks for SDSS-sized ones)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
FITS_SUFFIXES = {".fits", ".fit", ".fts", ".fits.gz"}
RESERVED_COLUMNS = {"id", "file", "ra", "dec"}


class IngestError(ValidationFailed):
    """A manifest or image problem; the message names the row and what to fix."""


@dataclass(frozen=True)
class DisplayImage:
    png: bytes
    width: int
    height: int
    wcs_header: dict[str, Any] | None
    centre_radec: tuple[float, float] | None


def _suffix(path: Path) -> str:
    return ".fits.gz" if path.name.lower().endswith(".fits.gz") else path.suffix.lower()


def image_to_display(path: Path) -> DisplayImage:
    """Read a PNG/JPEG/FITS file into the PNG volunteers see, with its WCS when FITS has one."""
    if path.stat().st_size > settings.ZOOLOOP_MAX_IMAGE_BYTES:
        raise IngestError(f"{path.name} is larger than {settings.ZOOLOOP_MAX_IMAGE_BYTES} bytes")
    suffix = _suffix(path)
    if suffix in FITS_SUFFIXES:
        return _fits_to_display(path)
    if suffix not in IMAGE_SUFFIXES:
        raise IngestError(f"{path.name}: unsupported file type; use PNG, JPEG or FITS")
    limit = settings.ZOOLOOP_MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit  # Pillow raises on decompression bombs past twice this
    try:
        with Image.open(path) as img:
            if img.width * img.height > limit:  # between 1x and 2x Pillow only warns: refuse before decoding
                raise IngestError(f"{path.name}: {img.width} x {img.height} pixels exceeds the limit of {limit} pixels")
            img.load()
            _refuse_generated(img, path)
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise IngestError(f"{path.name} is not a readable image: {exc}") from None
    buf = io.BytesIO()
    rgb.save(buf, format="PNG")
    return DisplayImage(png=buf.getvalue(), width=rgb.width, height=rgb.height, wcs_header=None, centre_radec=None)


def _refuse_generated(img: Image.Image, path: Path) -> None:
    """Generated galaxies (issue #18) train models; they are never shown to volunteers as real subjects."""
    marker = generated_marker(img)
    if marker is not None:
        raise IngestError(f"{path.name} is a generated image (PNG marker {GENERATED_KEY}, model "
                          f"{marker.get('model', 'unknown')}); generated galaxies cannot become subjects")


def asinh_stretch(data: np.ndarray, *, softening: float = 0.1) -> np.ndarray:
    """Map an image to 0..255 with an asinh stretch (Lupton et al. 2004), which keeps faint discs visible."""
    finite = np.isfinite(data)
    if not finite.any():
        raise IngestError("the FITS image has no finite pixel values")
    lo, hi = np.percentile(data[finite], [1.0, 99.8])
    scaled = np.clip((np.where(finite, data, lo) - lo) / max(hi - lo, 1e-12), 0, 1)
    stretched = np.arcsinh(scaled / softening) / np.arcsinh(1 / softening)
    return (stretched * 255).round().astype(np.uint8)


def _fits_to_display(path: Path) -> DisplayImage:
    from astropy.io import fits
    from astropy.wcs import WCS

    try:
        with fits.open(path, memmap=False) as hdul:
            hdu = next((h for h in hdul if h.data is not None and getattr(h.data, "ndim", 0) >= 2), None)
            if hdu is None:
                raise IngestError(f"{path.name}: the FITS file has no image data")
            data = np.asarray(hdu.data, dtype=float)
            header = hdu.header
    except (OSError, ValueError, TypeError) as exc:
        raise IngestError(f"{path.name} is not a readable FITS file: {exc}") from None
    while data.ndim > 2:
        data = data[0]
    if data.size > settings.ZOOLOOP_MAX_IMAGE_PIXELS:
        raise IngestError(f"{path.name}: {data.size} pixels exceeds the limit")
    # FITS rows run bottom-up; images on screen run top-down.
    pixels = asinh_stretch(data)[::-1]
    wcs = WCS(header, naxis=2)
    celestial = wcs.has_celestial
    wcs_header = {k: v for k, v in wcs.to_header().items()} if celestial else None
    centre = None
    if celestial:
        sky = wcs.pixel_to_world_values((data.shape[1] - 1) / 2, (data.shape[0] - 1) / 2)
        centre = (float(sky[0]), float(sky[1]))
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").convert("RGB").save(buf, format="PNG")
    return DisplayImage(png=buf.getvalue(), width=data.shape[1], height=data.shape[0], wcs_header=wcs_header,
                        centre_radec=centre)


def read_manifest(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise IngestError(f"cannot read manifest {path}: {exc}") from None
    if not rows:
        raise IngestError(f"manifest {path} has no rows")
    missing = {"id", "file"} - set(rows[0])
    if missing:
        raise IngestError(f"manifest {path} lacks column(s): {', '.join(sorted(missing))}")
    return rows


def _float_or_none(row: dict[str, str], key: str, line: int) -> float | None:
    raw = (row.get(key) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise IngestError(f"manifest line {line}: {key}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise IngestError(f"manifest line {line}: {key} must be finite")
    return value


def subject_set_ingest(*, workflow: Workflow, name: str, folder: Path, manifest: Path,
                       progress: Callable[[Iterable], Iterable] = iter) -> SubjectSet:
    """Create a subject set from a folder of images and a manifest CSV (id, file, ra, dec, metadata...).

    Every image is read and checked before anything is written, then all rows are
    created in one transaction: a bad row leaves the database as it was.
    """
    rows = read_manifest(manifest)
    prepared = []
    for line, row in enumerate(progress(rows), start=2):
        path = (folder / row["file"]).resolve()
        if not path.is_relative_to(folder.resolve()) or not path.is_file():
            raise IngestError(f"manifest line {line}: file {row['file']!r} is not in {folder}")
        image = image_to_display(path)
        ra, dec = _float_or_none(row, "ra", line), _float_or_none(row, "dec", line)
        if ra is None and image.centre_radec:
            ra, dec = image.centre_radec
        meta = {k: v for k, v in row.items() if k not in RESERVED_COLUMNS and v not in (None, "")}
        prepared.append((row["id"], image, ra, dec, meta))
    with transaction.atomic():
        subject_set = SubjectSet.objects.create(project=workflow.project, workflow=workflow, name=name)
        for external_id, image, ra, dec, meta in prepared:
            subject_create(subject_set=subject_set, external_id=external_id, image=image, ra=ra, dec=dec,
                           metadata=meta)
    return subject_set


def band_frames(png: bytes) -> list[tuple[str, bytes]]:
    """Split a gri colour composite (R=i, G=r, B=g) into one grey frame per band, for the flipbook."""
    with Image.open(io.BytesIO(png)) as img:
        channels = img.convert("RGB").split()
    frames = []
    for label, channel in (("g", channels[2]), ("r", channels[1]), ("i", channels[0])):
        buf = io.BytesIO()
        channel.save(buf, format="PNG")
        frames.append((label, buf.getvalue()))
    return frames


def subject_create(*, subject_set: SubjectSet, external_id: str, image: DisplayImage, ra: float | None,
                   dec: float | None, metadata: dict[str, Any], is_gold: bool = False,
                   extra_frames: list[tuple[str, bytes]] = ()) -> Subject:
    digest = hashlib.sha256(image.png).hexdigest()
    subject = Subject.objects.create(
        workflow=subject_set.workflow, subject_set=subject_set, external_id=external_id, metadata=metadata,
        ra=ra, dec=dec, wcs_header=image.wcs_header, width=image.width, height=image.height,
        content_hash=digest, is_gold=is_gold)
    frame = SubjectFrame(subject=subject, index=0, label="gri" if extra_frames else "image")
    frame.image.save(f"{digest[:16]}.png", ContentFile(image.png), save=True)
    for index, (label, png) in enumerate(extra_frames, start=1):
        extra = SubjectFrame(subject=subject, index=index, label=label)
        extra.image.save(f"{digest[:16]}-{label}.png", ContentFile(png), save=True)
    return subject


def subject_set_synthesize(*, workflow: Workflow, name: str, n: int, seed: int, out_dir: Path,
                           n_gold: int = 0, progress: bool = True, band_frames_wanted: bool = False,
                           size: int = SIMULATOR_SIZE) -> SubjectSet:
    """Render a synthetic survey with GalSim and store it; the truth goes to SubjectTruth, never to volunteers.

    A folder that already holds at least ``n`` galaxies of this seed is reused, not rendered again.
    The ``n_gold`` gold subjects are drawn at random (from ``seed``), so they do not stand out as the first ids.
    ``size`` is the image side in pixels (0.396 arcsec each): the demo shows volunteers SDSS-sized subjects, while
    the simulator's default keeps thousands of galaxies cheap to render and to train on.
    """
    if int(size) < 16 or int(n) < 1:
        raise ValidationFailed(f"a synthetic survey needs n >= 1 and size >= 16 (got n={n}, size={size})")
    manifest = _synthetic_manifest(n=n, seed=seed, out_dir=out_dir, progress=progress, size=int(size))
    gold_rows = set(np.random.default_rng([seed, 1]).choice(n, size=min(n_gold, n), replace=False).tolist())
    truth_cols = [c for c in manifest.columns if c.startswith("truth_")]
    with transaction.atomic():
        subject_set = SubjectSet.objects.create(project=workflow.project, workflow=workflow, name=name)
        for i, row in enumerate(manifest.to_dict("records")):
            image = image_to_display(out_dir / row["file"])
            subject = subject_create(subject_set=subject_set, external_id=str(row["id"]), image=image,
                                     ra=float(row["ra"]), dec=float(row["dec"]),
                                     metadata={"source": "synthetic"}, is_gold=i in gold_rows,
                                     extra_frames=band_frames(image.png) if band_frames_wanted else ())
            truth = {c.removeprefix("truth_"): row[c] for c in truth_cols if row[c]}
            SubjectTruth.objects.create(subject=subject, values={**truth, "clumps": row["clumps"]})
            if subject.is_gold:
                GoldAnswer.objects.bulk_create([GoldAnswer(subject=subject, task=k, value=v)
                                                for k, v in truth.items()])
    return subject_set


def _synthetic_manifest(*, n: int, seed: int, out_dir: Path, progress: bool, size: int) -> pd.DataFrame:
    from ml.synth import synth_survey

    cached = out_dir / "manifest.csv"
    if cached.is_file():
        # Galaxy i depends only on (seed, i), so the first n rows of a bigger survey are the survey of size n.
        manifest = pd.read_csv(cached, dtype=str, keep_default_na=False)
        if (len(manifest) >= n and manifest["id"].iloc[0] == f"synth-{seed}-000000"
                and _image_side(out_dir / manifest["file"].iloc[0]) == size):
            return manifest.head(n)
    return synth_survey(n, out_dir, seed=seed, size=size, progress=progress)


def _image_side(path: Path) -> int | None:
    try:
        with Image.open(path) as image:
            return image.width
    except (OSError, UnidentifiedImageError):
        return None  # a missing or broken cached file: render the survey again
