"""Random search's best-after-n, exactly: the baseline a strategy is measured against on a table.

Random search draws ``n`` of a band's ``N`` candidates uniformly without replacement
(:func:`gpunas.search.propose.propose_random`). The best value after ``n`` draws is at most ``v``
when none of the ``g(v)`` candidates above ``v`` was drawn, which is a hypergeometric event:

    P(best <= v) = C(N - g(v), n) / C(N, n) = Hypergeom(M=N, K=g(v), n).pmf(0)

so its quantiles follow from the table without sampling seeds (the 20-seed median of simulated
random runs is only an estimate of the same number, off by one or two accuracy levels when few
candidates sit near the top).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import hypergeom


def random_search_best_cdf(values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of the best of ``n`` uniform draws without replacement from ``values``.

    ``values`` has shape (N,) (e.g. accuracy in percent); NaN entries (failed trials) are drawn
    but never the best. Returns (levels, cdf): the distinct finite values ascending, shape (k,),
    and ``P(best <= level)``, shape (k,). Raises ``ValueError`` if ``n`` is not in 1..N or no value
    is finite.
    """
    values = np.asarray(values, dtype=float).ravel()
    total = len(values)
    if not 1 <= n <= total:
        raise ValueError(f"n must be in 1..{total} (the number of candidates), got {n}")
    finite = np.sort(values[np.isfinite(values)])
    if len(finite) == 0:
        raise ValueError("no finite value to draw the best from")
    levels = np.unique(finite)
    above = len(finite) - np.searchsorted(finite, levels, side="right")  # g(v): values > v
    return levels, hypergeom(total, above, n).pmf(0)


def random_search_best_quantile(values: np.ndarray, n: int, q: float = 0.5) -> float:
    """The ``q``-quantile (0 < q < 1; 0.5: the median) of random search's best after ``n`` draws:
    the smallest level whose cumulative probability reaches ``q`` (module docstring for the formula).
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    levels, cdf = random_search_best_cdf(values, n)
    return float(levels[np.searchsorted(cdf, q - 1e-12)])
