"""A data release: one versioned folder with every catalogue, its data model, its provenance and how to cite it."""
from __future__ import annotations

import hashlib
import json
import re
from importlib.metadata import PackageNotFoundError, version as package_version
from pathlib import Path
from typing import Any

from django.utils import timezone

from zooapp.errors import ValidationFailed
from zooapp.models import Export, ModelVersion, Workflow
from zooapp.services.catalogues import CLUMP_COLUMNS, catalogue_datamodel, catalogue_table
from zooapp.services.datamodel import datamodel_markdown, datamodel_rows
from zooapp.services.exports import FORMATS, SUFFIX, export_file_write, write_table

_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,30}$")
CITATION = """Please cite this release as:

  {authors}, "{title}", data release {release} (zooloop workflow {workflow}), {year}.

and the methods it rests on:
  Willett K. W. et al. 2013, MNRAS 435, 2835 (Galaxy Zoo 2 catalogue conventions and flags);
  Marshall P. J. et al. 2016, MNRAS 455, 1171 (SWAP online Bayesian aggregation);
  Hart R. E. et al. 2016, MNRAS 461, 3663 (debiased vote fractions), if you use the _debiased columns.
"""


def _software_version() -> str:
    try:
        return package_version("zooloop")
    except PackageNotFoundError:
        return "unknown"


def release_provenance(*, workflow: Workflow, release: str) -> dict[str, Any]:
    """Engine and model versions, the retirement rules and every workflow version the votes came from."""
    versions = [{"number": v.number, "created_at": v.created_at.isoformat(),
                 "tree_sha256": hashlib.sha256(json.dumps(v.tree, sort_keys=True).encode()).hexdigest()}
                for v in workflow.versions.order_by("number")]
    models = [{"kind": m.kind, "number": m.number, "serving": m.serving, "n_train": m.n_train,
               "created_at": m.created_at.isoformat(), "metrics": m.metrics}
              for m in ModelVersion.objects.filter(workflow=workflow).order_by("kind", "number")]
    return {"release": release, "created_at": timezone.now().isoformat(), "software": {"zooloop": _software_version()},
            "workflow": {"id": workflow.pk, "name": workflow.name, "project": workflow.project.slug},
            "engine": {"name": "online SWAP (aggregation.online)", "state": workflow.engine.to_dict(),
                       "aggregation_seq": workflow.aggregation_seq},
            "retirement_rules": workflow.rules.to_dict(), "workflow_versions": versions, "models": models,
            "n_human_classifications": workflow.n_human_classifications}


def _write_tables(workflow: Workflow, folder: Path) -> dict[str, int]:
    written = {}
    catalogue = catalogue_table(workflow=workflow)
    for fmt in FORMATS[Export.Kind.CATALOGUE]:
        write_table(catalogue, folder / f"catalogue{SUFFIX[fmt]}", fmt)
        written[f"catalogue{SUFFIX[fmt]}"] = len(catalogue)
    for kind in (Export.Kind.CLUMPS, Export.Kind.COCO, Export.Kind.CLASSIFICATIONS, Export.Kind.WORKFLOW):
        for fmt in FORMATS[kind]:
            name = f"{kind}{SUFFIX[fmt]}"
            written[name] = export_file_write(workflow=workflow, kind=kind, fmt=fmt, path=folder / name)
    tables = {"catalogue": catalogue_datamodel(workflow=workflow, table=catalogue), "clumps": CLUMP_COLUMNS}
    (folder / "DATAMODEL.md").write_text(datamodel_markdown(title=f"Data model of release {folder.name}",
                                                            tables=tables))
    (folder / "datamodel.json").write_text(json.dumps({k: datamodel_rows(v) for k, v in tables.items()}, indent=1))
    return written


def release_write(*, workflow: Workflow, release: str, out_dir: Path, authors: str = "The zooloop volunteers") -> Path:
    """Write ``out_dir/<workflow>-v<release>/``; refuses a malformed version or a folder that already exists."""
    if not _VERSION.match(release):
        raise ValidationFailed(f"release version {release!r} must be letters, digits, '.' or '-', e.g. 1.0")
    folder = Path(out_dir) / f"zooloop-workflow-{workflow.pk}-v{release}"
    if folder.exists():
        raise ValidationFailed(f"{folder} already exists; a release is never overwritten, choose a new version")
    folder.mkdir(parents=True)
    files = _write_tables(workflow, folder)
    provenance = {**release_provenance(workflow=workflow, release=release), "files": files}
    (folder / "provenance.json").write_text(json.dumps(provenance, indent=1, default=str))
    (folder / "CITATION.txt").write_text(CITATION.format(authors=authors, title=workflow.name, release=release,
                                                         workflow=workflow.pk, year=timezone.now().year))
    return folder
