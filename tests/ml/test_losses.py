import math

import torch

from ml.losses import dirichlet_multinomial_nll


def test_it_matches_a_hand_computed_dirichlet_multinomial():
    # k = (2, 1), alpha = (1, 1): p = 3!/(2! 1!) * G(2)/G(5) * G(3)G(2)/(G(1)G(1)) = 3 * 1/24 * 2 = 1/4.
    nll = dirichlet_multinomial_nll(torch.tensor([[2.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
    assert math.isclose(float(nll[0]), math.log(4.0), rel_tol=1e-5)


def test_it_matches_a_second_hand_case_with_unequal_concentrations():
    # k = (1, 0, 0), alpha = (2, 1, 1): p = E[rho_1] = 2/4.
    nll = dirichlet_multinomial_nll(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[2.0, 1.0, 1.0]]))
    assert math.isclose(float(nll[0]), math.log(2.0), rel_tol=1e-5)


def test_it_is_zero_for_a_question_nobody_answered():
    nll = dirichlet_multinomial_nll(torch.zeros((3, 2)), torch.tensor([[5.0, 2.0]] * 3))
    assert torch.allclose(nll, torch.zeros(3))


def test_it_prefers_concentrations_that_agree_with_the_votes():
    counts = torch.tensor([[9.0, 1.0]])
    good = dirichlet_multinomial_nll(counts, torch.tensor([[45.0, 5.0]]))
    bad = dirichlet_multinomial_nll(counts, torch.tensor([[5.0, 45.0]]))
    assert float(good) < float(bad)


def test_it_broadcasts_over_ensemble_members():
    alpha = torch.rand(2, 4, 3) + 1
    counts = torch.randint(0, 5, (4, 3)).float()
    nll = dirichlet_multinomial_nll(counts[None].expand_as(alpha), alpha)
    assert nll.shape == (2, 4)
