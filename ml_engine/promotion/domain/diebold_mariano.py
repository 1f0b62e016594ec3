"""The Diebold-Mariano test of equal predictive accuracy, with the Harvey-Leybourne-Newbold
small-sample correction.

d_t = loss_active_t - loss_shadow_t (positive: the shadow did better). Forecasts h steps ahead made
every step overlap, so d_t is autocorrelated up to lag h - 1: its long-run variance is
gamma_0 + 2 sum_{k=1}^{h-1} gamma_k (autocovariances with divisor n, the truncated rectangular
kernel of the original test; when that sum is not positive, Bartlett weights 1 - k/h, which always
give a non-negative variance). DM = mean(d) / sqrt(V / n). HLN: DM* = DM x sqrt((n + 1 - 2h +
h (h - 1) / n) / n), compared with Student's t with n - 1 degrees of freedom (two-sided p-value).

Pure Python (math only): the t distribution through the regularised incomplete beta function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class DmResult:
    n: int
    # Mean of d = loss_active - loss_shadow (positive: the shadow's losses are smaller).
    mean_difference: float
    # The HLN-corrected statistic and its two-sided p-value; nan / 1.0 when it cannot be computed.
    statistic: float
    p_value: float


def minimum_pairs(horizon: int) -> int:
    """The fewest pairs the HLN correction is defined for (n + 1 - 2h + h(h-1)/n > 0 holds from 2h on)."""
    return max(3, 2 * max(1, horizon))


def autocovariance(d: Sequence[float], mean: float, lag: int) -> float:
    n = len(d)
    return sum((d[t] - mean) * (d[t - lag] - mean) for t in range(lag, n)) / n


def long_run_variance(d: Sequence[float], horizon: int) -> float:
    """HAC variance of the mean-difference series for h-step forecasts (see the module doc)."""
    mean = sum(d) / len(d)
    lags = [autocovariance(d, mean, k) for k in range(max(1, horizon))]
    rectangular = lags[0] + 2 * sum(lags[1:])
    if rectangular > 0 or len(lags) == 1:
        return rectangular
    h = len(lags)
    return lags[0] + 2 * sum((1 - k / h) * lags[k] for k in range(1, h))


def hln_factor(n: int, horizon: int) -> float:
    h = max(1, horizon)
    return math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)


def diebold_mariano(loss_active: Sequence[float], loss_shadow: Sequence[float], horizon: int) -> DmResult:
    """The test on paired losses (same predictions' targets, in time order) of h-step forecasts."""
    if len(loss_active) != len(loss_shadow):
        raise ValueError("the two loss series must pair up")
    d = [a - s for a, s in zip(loss_active, loss_shadow, strict=True)]
    n = len(d)
    if n < minimum_pairs(horizon):
        return DmResult(n, sum(d) / n if n else 0.0, math.nan, 1.0)
    mean = sum(d) / n
    variance = long_run_variance(d, horizon)
    if variance <= 0:
        # Every difference the same: no evidence when it is zero, overwhelming otherwise.
        if mean == 0:
            return DmResult(n, 0.0, 0.0, 1.0)
        return DmResult(n, mean, math.copysign(math.inf, mean), 0.0)
    statistic = mean / math.sqrt(variance / n) * hln_factor(n, horizon)
    return DmResult(n, mean, statistic, student_t_two_sided_p(statistic, n - 1))


def student_t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2)."""
    if math.isinf(t):
        return 0.0
    x = df / (df + t * t)
    return min(1.0, max(0.0, regularized_beta(x, df / 2, 0.5)))


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) by its continued fraction (Lentz), on the side where it converges fast."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(x, a, b) / a
    return 1.0 - front * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float, tiny: float = 1e-300, eps: float = 1e-15) -> float:
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result
