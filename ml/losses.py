"""Dirichlet--Multinomial loss over vote counts (Walmsley et al. 2022, MNRAS 509, 3966, Eqs 5-7)."""
from __future__ import annotations

import torch


def dirichlet_multinomial_nll(counts: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of vote counts under a Dirichlet--Multinomial.

    ``p(k | alpha) = N!/prod k_a! * G(A)/G(N + A) * prod_a G(k_a + alpha_a)/G(alpha_a)``
    with ``N = sum k`` and ``A = sum alpha``.  The vote fractions are integrated
    out, so a galaxy with 3 votes constrains alpha less than one with 40.

    Parameters
    ----------
    counts : torch.Tensor
        ``(..., K)`` vote counts (non-negative; floats allowed, e.g. weighted votes).
    alpha : torch.Tensor
        ``(..., K)`` positive concentrations.

    Returns
    -------
    torch.Tensor
        ``(...)`` negative log-likelihood; exactly 0 for rows without votes.
    """
    total = counts.sum(dim=-1)
    a0 = alpha.sum(dim=-1)
    # lgamma(x + 1) is log(x!) extended to real counts, so weighted votes work too.
    log_multinomial = torch.lgamma(total + 1) - torch.lgamma(counts + 1).sum(dim=-1)
    log_ratio = torch.lgamma(a0) - torch.lgamma(total + a0)
    log_terms = (torch.lgamma(counts + alpha) - torch.lgamma(alpha)).sum(dim=-1)
    return -(log_multinomial + log_ratio + log_terms)
