import json

import numpy as np
import pytest

from aggregation.crowd import CROWD_FILES, CrowdFileError, answer_probabilities, crowd_from_dict, crowd_load, \
    member_draw, recording_load, votes_simulate

LABELS = ["smooth", "featured", "artifact"]


def one_population(**fields) -> dict:
    return {"populations": [{"name": "p", "share": 1.0, **fields}]}


@pytest.mark.parametrize("data, message", [
    ({"populations": []}, "populations must be a non-empty list"),
    ({"populations": [{"name": "a", "share": 0.5}]}, "share must sum to 1"),
    (one_population(kind="troll"), "kind must be one of skilled, careless, adversarial, colluding"),
    (one_population(skill=[0.9, 0.6]), "skill must have low <= high"),
    (one_population(skill=[0.5, 1.4]), "skill must be a number in [0, 1]"),
    (one_population(sesion={"median": 3}), "unknown field(s) ['sesion']"),
    (one_population(session={"median": 0}), "session.median must be a number in [1, 1e+06]"),
    (one_population(confusion={"T0": [[0.9, 0.2], [0.1, 0.9]]}), "every row must sum to 1"),
    ({**one_population(), "difficulty": {"source": "vibes"}}, "difficulty.source must be one of none, latent, image"),
])
def test_a_bad_crowd_gets_an_error_naming_the_field_and_what_is_allowed(data, message):
    with pytest.raises(CrowdFileError) as error:
        crowd_from_dict(data)
    assert message in str(error.value)


def test_a_bad_file_is_refused_with_its_name_and_the_parse_error(tmp_path):
    broken = tmp_path / "crowd.toml"
    broken.write_text("[[populations]\nname = 'x'")
    with pytest.raises(CrowdFileError, match="crowd.toml is not valid TOML"):
        crowd_load(broken)
    with pytest.raises(CrowdFileError, match="must end in .toml or .json"):
        (tmp_path / "crowd.yaml").write_text("x: 1")
        crowd_load(tmp_path / "crowd.yaml")
    with pytest.raises(CrowdFileError, match="does not exist"):
        crowd_load(tmp_path / "missing.json")


def test_the_shipped_crowds_load_and_the_harsh_ones_are_harsh():
    for name, path in CROWD_FILES.items():
        crowd = crowd_load(path)
        bad = sum(p.share for p in crowd.populations if p.kind in ("careless", "adversarial", "colluding"))
        decent = [p for p in crowd.populations if p.name == "decent"][0]
        if name.startswith("harsh"):
            assert bad >= 0.3 and decent.skill == (0.6, 0.85)
        else:
            assert bad < 0.3 and crowd.difficulty.source == "image"


def test_a_json_crowd_reads_like_a_toml_one(tmp_path):
    path = tmp_path / "crowd.json"
    path.write_text(json.dumps(one_population(kind="careless")))
    assert crowd_load(path).populations[0].kind == "careless"


def test_a_hard_galaxy_looks_like_its_confusable_class_to_everyone():
    crowd = crowd_from_dict({**one_population(skill=0.9), "questions": {"T0": {"confusable": {"smooth": "featured"}}}})
    member = member_draw(spec=crowd, seed=0, index=0)
    easy, half, hard = (answer_probabilities(spec=crowd, member=member, question="T0", labels=LABELS, truth=0,
                                             difficulty=d, n_done=0) for d in (0.0, 0.5, 1.0))
    # By hand: errors 0.1, half on the confusable answer and half spread over both others: (0.9, 0.075, 0.025);
    # featured's confusable is the next answer (artifact), so the featured row is (0.025, 0.9, 0.075).
    assert easy == pytest.approx([0.9, 0.075, 0.025])
    assert hard == pytest.approx([0.025, 0.9, 0.075])
    assert half == pytest.approx((easy + hard) / 2)


def test_shared_difficulty_makes_two_volunteers_errors_correlate_and_none_makes_them_independent():
    truth = np.zeros(3000, dtype=int)
    def error_correlation(source: str) -> float:
        crowd = crowd_from_dict({**one_population(skill=0.8), "difficulty": {"source": source, "alpha": 0.5,
                                                                             "beta": 0.5}})
        votes = votes_simulate(spec=crowd, truth=truth, n_classes=2, n_workers=10, votes_per_task=2, seed=1)
        wrong = (votes["label"] != 0).reshape(-1, 2)  # the two votes of each task
        return float(np.corrcoef(wrong[:, 0], wrong[:, 1])[0, 1])
    # By hand: P(wrong | d) = 0.2 (1 - d) + 0.8 d, so corr = Var(0.6 d) / (p (1 - p)) = 0.36 / 8 / 0.25 = 0.18
    # for d ~ Beta(1/2, 1/2) (variance 1/8; p = 1/2); without difficulty the errors are independent.
    assert error_correlation("latent") == pytest.approx(0.18, abs=0.05)
    assert abs(error_correlation("none")) < 0.05


def test_learning_fatigue_adversaries_and_careless_volunteers_answer_as_documented():
    learner = crowd_from_dict(one_population(skill=0.9, start=0.0, learn_halflife=10, fade_halflife=1000))
    member = member_draw(spec=learner, seed=0, index=0)
    p = [answer_probabilities(spec=learner, member=member, question="q", labels=["a", "b"], truth=0, difficulty=0,
                              n_done=n)[0] for n in (0, 10, 2000)]
    assert p[0] == pytest.approx(0.5) and p[1] == pytest.approx(0.5 + 0.4 * 0.5 * 0.5 ** 0.01)
    assert p[2] == pytest.approx(0.5 + 0.4 * 0.25)  # two fade half-lives: back towards chance
    adversary = crowd_from_dict(one_population(kind="adversarial", skill=0.8))
    liar = member_draw(spec=adversary, seed=0, index=0)
    assert answer_probabilities(spec=adversary, member=liar, question="q", labels=["a", "b"], truth=0, difficulty=0,
                                n_done=0) == pytest.approx([0.2, 0.8])
    careless = crowd_from_dict(one_population(kind="careless"))
    assert answer_probabilities(spec=careless, member=member_draw(spec=careless, seed=0, index=0), question="q",
                                labels=LABELS, truth=0, difficulty=0.0, n_done=0) == pytest.approx([1 / 3] * 3)


def test_a_colluding_ring_gives_the_same_wrong_answer_on_the_same_galaxies():
    ring = crowd_from_dict({**one_population(kind="colluding", skill=1.0, groups=1, collude_rate=0.3),
                            "difficulty": {"source": "none"}})
    votes = votes_simulate(spec=ring, truth=np.zeros(400, dtype=int), n_classes=2, n_workers=6, votes_per_task=3)
    wrong = (votes["label"] != 0).reshape(-1, 3)
    assert set(wrong.sum(axis=1)) == {0, 3}  # all three, or none: never one alone
    assert 0.2 < wrong[:, 0].mean() < 0.4


def test_the_same_seed_gives_the_same_crowd_and_votes():
    crowd = crowd_load(CROWD_FILES["harsh_adversarial"])
    truth = np.random.default_rng(0).integers(3, size=50)
    first, second = (votes_simulate(spec=crowd, truth=truth, n_classes=3, n_workers=8, votes_per_task=4, seed=5)
                     for _ in range(2))
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert member_draw(spec=crowd, seed=5, index=3) == member_draw(spec=crowd, seed=5, index=3)


def test_a_replay_reveals_only_recorded_votes_once_each(tmp_path):
    (tmp_path / "label.csv").write_text("item,worker,label\n1,a,0\n2,a,1\n2,b,1\n2,a,0\n")
    (tmp_path / "truth.csv").write_text("item,truth\n1,0\n2,1\n")
    recording = recording_load(votes=tmp_path / "label.csv", truth=tmp_path / "truth.csv")
    assert recording.workers == ["a", "b"] and recording.tasks == ["1", "2"]
    assert recording.reveal(worker="b", offered=["1"]) is None  # b never labelled task 1: b leaves
    assert recording.reveal(worker="b", offered=["1", "2"]) == ("2", "1")  # served the next task instead
    assert recording.reveal(worker="a", offered=["2", "1"]) == ("2", "1")  # the first of a duplicate is kept
    assert recording.reveal(worker="a", offered=["2"]) is None  # each vote is revealed once


def test_a_bad_recording_is_refused_with_the_columns_it_needs(tmp_path):
    (tmp_path / "label.csv").write_text("task,who,label\n1,a,0\n")
    (tmp_path / "truth.csv").write_text("task,truth\n1,0\n")
    with pytest.raises(CrowdFileError, match="needs columns task \\(or item\\), worker, label"):
        recording_load(votes=tmp_path / "label.csv", truth=tmp_path / "truth.csv")
