import numpy as np
import pytest
from scipy.special import logsumexp

from aggregation.catalogue import (clean_flags, debias_fractions, gz2_stems, posterior_interval, reach_fractions,
                                   vote_fraction_interval, well_sampled)
from aggregation.crowd import crowd_from_dict, votes_simulate
from aggregation.crowd.model import confusable_index
from aggregation.online import initial_log_posterior
from aggregation.schema import galaxy_zoo_tree

K = 3
CROWD = crowd_from_dict({"difficulty": {"source": "latent", "alpha": 1.0, "beta": 4.0},
                         "questions": {"q": {"confusable_share": 0.5}},
                         "populations": [{"name": "skilled", "share": 1.0, "skill": [0.55, 0.95]}]})


def test_the_galaxy_zoo_tree_gets_the_gz2_column_stems_of_its_questions():
    stems = gz2_stems(galaxy_zoo_tree().to_dict())
    assert stems["T0"].answers == ("t01_smooth_or_features_a01_smooth", "t01_smooth_or_features_a02_features_or_disk",
                                   "t01_smooth_or_features_a03_star_or_artifact")
    assert stems["T1"].task == "t07_rounded" and stems["T1"].threshold == pytest.approx(0.469)
    assert stems["T3"].answers[0] == "t03_bar_a06_bar"


def test_a_question_gz2_does_not_ask_is_named_from_its_key_and_labels_numbered_from_one():
    tree = {"first_task": "T0", "tasks": {
        "T0": {"type": "single", "question": "Clumpy?", "answers": [{"label": "yes", "next": "T1"}, {"label": "no"}]},
        "T1": {"type": "multiple", "question": "Which?", "name": "Clump kind",
               "answers": [{"label": "Big one"}, {"label": "small"}]}}}
    stems = gz2_stems(tree)
    assert stems["T0"].answers == ("t01_t0_a01_yes", "t01_t0_a02_no")
    assert stems["T1"].answers == ("t02_clump_kind_a03_big_one", "t02_clump_kind_a04_small")


def test_every_observed_vote_fraction_lies_inside_its_interval():
    for n in range(1, 120):
        for c in range(n + 1):
            lo, hi = vote_fraction_interval(np.array([c, n - c]))
            assert lo[0] <= c / n <= hi[0]
    assert np.isnan(vote_fraction_interval(np.zeros(3))[0]).all()


def _pool_fractions(sim, truth):
    """The population fraction of each answer on each galaxy: the quantity the interval estimates."""
    pool, d = sim["confusion"].mean(axis=0), sim["difficulty"]
    labels = [str(i) for i in range(K)]
    confused = [confusable_index(spec=CROWD, question="q", labels=labels, true_index=int(t)) for t in truth]
    return (1 - d)[:, None] * pool[truth] + d[:, None] * pool[confused]


@pytest.mark.parametrize("votes_per_task", [10, 20])
def test_95_percent_vote_fraction_intervals_cover_94_to_96_percent_on_a_simulated_crowd(votes_per_task):
    truth = np.random.default_rng(0).integers(0, K, 3000)
    sim = votes_simulate(spec=CROWD, truth=truth, n_classes=K, n_workers=300, votes_per_task=votes_per_task, seed=2)
    counts = np.zeros((truth.size, K))
    np.add.at(counts, (sim["task"], sim["label"]), 1)
    q = _pool_fractions(sim, truth)
    bounds = [vote_fraction_interval(c) for c in counts]
    covered = np.array([(lo <= q[i]) & (q[i] <= hi) for i, (lo, hi) in enumerate(bounds)])
    assert 0.94 <= covered.mean() <= 0.96


def _posterior_trial(rng, n_gold=15, n_votes=5):
    """Voters whose confusion is drawn from a Dirichlet and learned from gold, as the engine's agents are."""
    truth = rng.integers(K)
    prior = np.full((K, K), 0.5) + 2 * np.eye(K)
    log_post, oracle, votes = initial_log_posterior(K), initial_log_posterior(K), []
    for _ in range(n_votes):
        pi = np.stack([rng.dirichlet(row) for row in prior])
        alpha = prior + np.stack([rng.multinomial(n_gold, pi[k]) for k in range(K)])
        label = rng.choice(K, p=pi[truth])
        log_post = log_post + np.log(alpha[:, label] / alpha.sum(axis=1))
        oracle = oracle + np.log(pi[:, label])
        votes.append((alpha, label))
    return log_post - logsumexp(log_post), np.exp(oracle - logsumexp(oracle)), votes


def test_posterior_intervals_contain_the_engine_estimate_and_cover_the_posterior_under_the_true_skills():
    rng = np.random.default_rng(1)
    covered, contained = [], []
    for trial in range(1500):
        log_post, oracle, votes = _posterior_trial(rng)
        lo, hi = posterior_interval(log_posterior=log_post, votes=votes, random_state=trial)
        covered.append((lo <= oracle) & (oracle <= hi))
        contained.append((lo <= np.exp(log_post)) & (np.exp(log_post) <= hi))
    assert np.all(contained)
    assert 0.94 <= np.mean(covered) <= 0.96


def test_a_confident_posterior_keeps_its_estimate_inside_the_interval():
    alpha = np.array([[40.0, 2.0], [2.0, 40.0]])
    log_post = np.log(np.array([0.99959, 0.00041]))
    lo, hi = posterior_interval(log_posterior=log_post, votes=[(alpha, 0)] * 8)
    assert lo[0] <= 0.99959 <= hi[0] and lo[0] < 0.999


def test_reach_multiplies_the_fractions_along_the_tree_and_flags_need_enough_votes():
    tree = galaxy_zoo_tree().to_dict()
    fractions = {"T0": np.array([0.2, 0.7, 0.1]), "T1": np.array([0.5, 0.3, 0.2]), "T2": np.array([0.4, 0.6]),
                 "T3": np.array([0.3, 0.7]),
                 "T4": np.array([0.9, 0.1])}
    reach = reach_fractions(tree, fractions)
    assert reach["T1"] == pytest.approx(0.2) and reach["T3"] == pytest.approx(0.42)
    assert reach["T5"] == pytest.approx(0.2 + 0.7 * 0.4 + 0.42)
    assert well_sampled(n_votes=25, reach=0.8, threshold=0.715)
    assert not well_sampled(n_votes=25, reach=0.6, threshold=0.715) and not well_sampled(n_votes=12, reach=1,
                                                                                          threshold=None)
    assert clean_flags(np.array([0.85, 0.15]), sampled=True).tolist() == [True, False]
    assert not clean_flags(np.array([0.85, 0.15]), sampled=False).any()


def test_debiasing_maps_distant_galaxies_onto_the_nearby_distribution():
    rng = np.random.default_rng(0)
    n = 4000
    z, size = rng.uniform(0.01, 0.2, n), rng.uniform(1, 10, n)
    intrinsic = rng.beta(2, 2, n)
    observed = intrinsic * (1 - 3 * z)  # features fade with distance
    fractions = np.stack([observed, 1 - observed], axis=1)
    debiased = debias_fractions(fractions, redshift=z, size=size)
    far = z > 0.15
    error_before = abs(observed[far].mean() - intrinsic[far].mean())
    assert abs(debiased[far, 0].mean() - intrinsic[far].mean()) < 0.05 < error_before
    assert np.allclose(debiased.sum(axis=1), 1.0)
