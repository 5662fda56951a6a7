import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from django.core.management import CommandError, call_command

from tests.zooapp.test_exports import classified  # noqa: F401 - the shared fixture
from zooapp.models import Subject

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_release_folder_holds_every_catalogue_its_data_model_provenance_and_citation(classified, tmp_path, capsys):
    call_command("release", "--workflow", str(classified.pk), "--version", "1.0", "--out", str(tmp_path))
    folder = tmp_path / f"zooloop-workflow-{classified.pk}-v1.0"
    assert str(folder) in capsys.readouterr().out
    names = {p.name for p in folder.iterdir()}
    assert {"catalogue.fits", "catalogue.vot.xml", "catalogue.ecsv", "catalogue.csv", "clumps.fits", "coco.json",
            "classifications.csv", "workflow.json", "DATAMODEL.md", "datamodel.json", "provenance.json",
            "CITATION.txt"} <= names
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["retirement_rules"]["posterior_threshold"] == 0.6
    assert [v["number"] for v in provenance["workflow_versions"]] == [1]
    assert provenance["models"][0]["serving"] is True and "state" in provenance["engine"]
    assert "Willett" in (folder / "CITATION.txt").read_text()
    with pytest.raises(CommandError, match="never overwritten"):
        call_command("release", "--workflow", str(classified.pk), "--version", "1.0", "--out", str(tmp_path))


def test_the_data_model_lists_exactly_the_columns_written(classified, tmp_path):
    call_command("release", "--workflow", str(classified.pk), "--version", "2", "--out", str(tmp_path))
    folder = tmp_path / f"zooloop-workflow-{classified.pk}-v2"
    model = json.loads((folder / "datamodel.json").read_text())
    header = fits.getheader(folder / "catalogue.fits", 1)
    written = [header[f"TTYPE{i}"] for i in range(1, header["TFIELDS"] + 1)]
    assert [c["name"] for c in model["catalogue"]] == written
    assert [c["name"] for c in model["clumps"]] == Table.read(folder / "clumps.fits").colnames
    document = (folder / "DATAMODEL.md").read_text()
    assert all(f"`{name}`" in document for name in written)


def test_the_gz2_catalogue_reads_in_astropy_with_gz2_names_and_every_posterior_inside_its_interval(classified,
                                                                                                  tmp_path):
    call_command("release", "--workflow", str(classified.pk), "--version", "3", "--out", str(tmp_path))
    table = Table.read(tmp_path / f"zooloop-workflow-{classified.pk}-v3" / "catalogue.fits")
    assert {"t01_smooth_or_features_a01_smooth_count", "t01_smooth_or_features_a02_features_or_disk_weighted_fraction",
            "t02_edgeon_a04_yes_flag", "t07_rounded_a16_completely_round_fraction",
            "t01_smooth_or_features_well_sampled", "total_classifications", "total_votes"} <= set(table.colnames)
    for name in table.colnames:
        if name.endswith(("_posterior", "_fraction")) and not name.endswith("weighted_fraction"):
            value, lo, hi = (np.asarray(table[f"{name}{end}"], dtype=float) for end in ("", "_lo", "_hi"))
            seen = np.isfinite(value)
            assert np.all((lo[seen] <= value[seen]) & (value[seen] <= hi[seen])), name


def test_redshift_and_size_in_the_metadata_add_debiased_columns(classified, tmp_path):
    for i, s in enumerate(Subject.objects.filter(workflow=classified)):
        s.metadata = {**s.metadata, "redshift": 0.02 * (i + 1), "petro_r50": 3.0 + i}
        s.save(update_fields=["metadata"])
    call_command("release", "--workflow", str(classified.pk), "--version", "4", "--out", str(tmp_path))
    folder = tmp_path / f"zooloop-workflow-{classified.pk}-v4"
    table = Table.read(folder / "catalogue.ecsv", format="ascii.ecsv")
    assert "t01_smooth_or_features_a01_smooth_debiased" in table.colnames
    model = json.loads((folder / "datamodel.json").read_text())
    assert [c["name"] for c in model["catalogue"]] == table.colnames
