import torch

from aggregation.schema import TaskTree
from ml.classifier.chirality import mirror_labels, mirror_permutation
from ml.data import augment, dihedral

CHIRAL_TREE = TaskTree.from_dict({"first_task": "T0", "tasks": {
    "T0": {"type": "single", "answers": [{"label": "smooth", "next": None}, {"label": "spiral", "next": "T1"}]},
    "T1": {"type": "single", "answers": [{"label": "clockwise", "next": None}, {"label": "anticlockwise", "next": None},
                                         {"label": "cant_tell", "next": None}]}}})


def test_a_mirror_swaps_only_the_clockwise_and_anticlockwise_answers():
    assert mirror_permutation(CHIRAL_TREE).tolist() == [0, 1, 3, 2, 4]


def test_the_demo_tree_has_no_chiral_question(tree):
    perm = mirror_permutation(tree)
    assert torch.equal(perm, torch.arange(len(perm)))


def test_flipped_images_get_swapped_winding_votes_and_the_others_keep_theirs():
    counts = torch.tensor([[0.0, 5.0, 4.0, 1.0, 0.0]]).repeat(64, 1)
    images = torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out, flipped = augment(images, torch.Generator().manual_seed(1), max_rotation_deg=0.0)
    assert 10 < int(flipped.sum()) < 54
    for img, aug, f in zip(images, out, flipped):
        ks = [k for k in range(8) if torch.equal(dihedral(img, k), aug)]
        assert ks and (ks[0] >= 4) == bool(f)
    labelled = mirror_labels(counts, flipped, mirror_permutation(CHIRAL_TREE))
    assert torch.equal(labelled[flipped], torch.tensor([[0.0, 5.0, 1.0, 4.0, 0.0]]).expand(int(flipped.sum()), 5))
    assert torch.equal(labelled[~flipped], counts[~flipped])
