import numpy as np
import pandas as pd
import pytest

from aggregation.online import (GOLD_EVIDENCE_CAP, OnlineSWAP, agent_skill, gold_evidence_weight, information_gain,
                                initial_agent_alpha, initial_log_posterior, vote_update)


def test_it_builds_a_diagonal_heavy_default_agent():
    alpha = initial_agent_alpha(3, strength=4.0, skill=0.5)
    np.testing.assert_allclose(alpha, [[2, 1, 1], [1, 2, 1], [1, 1, 2]])


def test_it_returns_a_copy_of_a_given_prior():
    prior = np.array([[3.0, 1.0], [2.0, 2.0]])
    alpha = initial_agent_alpha(2, prior=prior)
    alpha[0, 0] = 99
    assert prior[0, 0] == 3.0


def test_it_updates_the_subject_by_the_agents_expected_row_probabilities():
    # Expected P(answer 0 | class 0) = 3/4, P(answer 0 | class 1) = 1/4: odds 3:1 from a uniform prior.
    alpha = np.array([[3.0, 1.0], [1.0, 3.0]])
    new_alpha, log_post = vote_update(agent_alpha=alpha, subject_log_posterior=initial_log_posterior(2), label=0)
    np.testing.assert_allclose(np.exp(log_post), [0.75, 0.25])
    np.testing.assert_array_equal(new_alpha, alpha)


def test_it_teaches_the_agent_on_gold_and_leaves_the_subject_alone():
    alpha = initial_agent_alpha(2)
    log_prior = initial_log_posterior(2)
    new_alpha, log_post = vote_update(agent_alpha=alpha, subject_log_posterior=log_prior, label=1, gold=0)
    assert new_alpha[0, 1] == alpha[0, 1] + 1
    assert (new_alpha - alpha).sum() == 1
    np.testing.assert_array_equal(log_post, log_prior)


def test_it_learns_unsupervised_by_the_new_posterior():
    alpha = np.array([[3.0, 1.0], [1.0, 3.0]])
    new_alpha, _ = vote_update(agent_alpha=alpha, subject_log_posterior=initial_log_posterior(2), label=0,
                               unsupervised_weight=2.0)
    np.testing.assert_allclose(new_alpha[:, 0], [3.0 + 1.5, 1.0 + 0.5])
    np.testing.assert_array_equal(new_alpha[:, 1], alpha[:, 1])


def test_it_never_mutates_its_inputs():
    alpha = initial_agent_alpha(2)
    log_post = initial_log_posterior(2)
    before = alpha.copy(), log_post.copy()
    vote_update(agent_alpha=alpha, subject_log_posterior=log_post, label=0, unsupervised_weight=1.0)
    vote_update(agent_alpha=alpha, subject_log_posterior=log_post, label=0, gold=1)
    np.testing.assert_array_equal(alpha, before[0])
    np.testing.assert_array_equal(log_post, before[1])


def test_it_rejects_a_label_outside_the_classes():
    with pytest.raises(ValueError, match="class indices"):
        vote_update(agent_alpha=initial_agent_alpha(2), subject_log_posterior=initial_log_posterior(2), label=2)


def test_it_stays_finite_after_many_confident_votes():
    alpha = np.array([[1000.0, 1e-3], [1e-3, 1000.0]])
    log_post = initial_log_posterior(2)
    for _ in range(500):
        alpha, log_post = vote_update(agent_alpha=alpha, subject_log_posterior=log_post, label=0)
    assert np.isfinite(log_post).all() and np.exp(log_post)[0] == pytest.approx(1.0)


def test_it_scores_skill_from_zero_bits_for_random_to_one_bit_for_perfect():
    assert agent_skill(np.ones((2, 2))) == pytest.approx(0.0)
    assert agent_skill(np.array([[1e9, 1e-9], [1e-9, 1e9]])) == pytest.approx(1.0)
    assert information_gain(np.eye(4)) == pytest.approx(2.0)


def test_it_matches_swaps_binary_skill_formula():
    pl, pd_ = 0.8, 0.6   # Marshall et al. 2016 appendix, p = 0.5

    def s(x):
        return x * np.log2(x)

    p = 0.5
    expected = (p * (s(pl) + s(1 - pl)) + (1 - p) * (s(pd_) + s(1 - pd_))
                - s(p * pl + (1 - p) * (1 - pd_)) - s(p * (1 - pl) + (1 - p) * pd_))
    confusion = np.array([[pd_, 1 - pd_], [1 - pl, pl]])
    assert agent_skill(confusion * 10) == pytest.approx(expected)


def test_it_equals_the_state_built_online_vote_by_vote(simulated_crowd):
    votes, gold, _ = simulated_crowd
    model = OnlineSWAP(unsupervised_weight=0.5).fit(votes, gold)
    alphas, posts = {}, {}
    gold_of = dict(zip(gold["task"], gold["label"]))
    classes = list(model.classes_)
    for task, worker, label in votes.itertuples(index=False):
        g = gold_of.get(task)
        alphas[worker], posts[task] = vote_update(
            agent_alpha=alphas.get(worker, initial_agent_alpha(len(classes))),
            subject_log_posterior=posts.get(task, initial_log_posterior(len(classes))),
            label=classes.index(label), gold=None if g is None else classes.index(g), unsupervised_weight=0.5)
    for worker, alpha in alphas.items():
        np.testing.assert_allclose(model.worker_alpha_[worker], alpha)
    online = pd.DataFrame(np.exp(np.array(list(posts.values()))), index=list(posts))
    free = [t for t in online.index if t not in gold_of]
    np.testing.assert_allclose(model.probas_.loc[free].to_numpy(), online.loc[free].to_numpy())


def test_it_reports_gold_subjects_as_their_gold_class(simulated_crowd):
    votes, gold, _ = simulated_crowd
    model = OnlineSWAP().fit(votes, gold)
    assert (model.labels_.loc[gold["task"]].to_numpy() == gold["label"].to_numpy()).all()


def _gold_farmer_alpha(n_gold: int, cap: int | None) -> np.ndarray:
    # A volunteer who learnt every gold answer in advance and answers only gold, perfectly.
    alpha, n = initial_agent_alpha(3), 0
    for i in range(n_gold):
        truth = i % 3
        alpha, _ = vote_update(agent_alpha=alpha, subject_log_posterior=initial_log_posterior(3), label=truth,
                               gold=truth, gold_weight=gold_evidence_weight(n, cap=cap))
        n += 1
    return alpha


def test_a_volunteers_weight_cannot_grow_on_gold_alone_past_the_cap():
    capped = [agent_skill(_gold_farmer_alpha(n, GOLD_EVIDENCE_CAP)) for n in (GOLD_EVIDENCE_CAP, 200)]
    uncapped = agent_skill(_gold_farmer_alpha(200, None))
    assert capped[0] == capped[1]  # 180 more perfect gold answers add nothing
    assert capped[1] < uncapped - 0.2


def test_the_capped_replay_equals_the_capped_online_updates(simulated_crowd):
    votes, gold, _ = simulated_crowd
    model = OnlineSWAP(unsupervised_weight=0.5, gold_cap=2).fit(votes, gold)
    gold_of = dict(zip(gold["task"], gold["label"]))
    classes = list(model.classes_)
    alphas, posts, n_gold = {}, {}, {}
    for task, worker, label in votes.itertuples(index=False):
        g = None if gold_of.get(task) is None else classes.index(gold_of[task])
        alphas[worker], posts[task] = vote_update(
            agent_alpha=alphas.get(worker, initial_agent_alpha(len(classes))),
            subject_log_posterior=posts.get(task, initial_log_posterior(len(classes))), label=classes.index(label),
            gold=g, unsupervised_weight=0.5, gold_weight=gold_evidence_weight(n_gold.get(worker, 0), cap=2))
        n_gold[worker] = n_gold.get(worker, 0) + int(g is not None)
    for worker, alpha in alphas.items():
        np.testing.assert_allclose(model.worker_alpha_[worker], alpha)
    uncapped = OnlineSWAP(unsupervised_weight=0.5).fit(votes, gold)
    assert any(not np.allclose(uncapped.worker_alpha_[w], a) for w, a in alphas.items())
