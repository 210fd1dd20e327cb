"""ABC-SMC in the adaptive population Monte Carlo form (Lenormand, Jabot & Deffuant 2013).

The algorithm only: it knows nothing of scenarios. ``simulate(x, generation)`` turns
parameter sets into simulated observations, ``distance(sims)`` scores them. Each
generation keeps the closest ``kept`` sets; proposals move kept sets by a Gaussian
kernel on the logit of each parameter's place in its uniform prior range, so
proposals stay inside the prior and importance weights stay exact. The kernel's
covariance is by default local to each kept set (the OLCM of Filippi et al. 2013),
which keeps the effective sample size of the weights above half the kept sets. Each kept set is weighed
against the mixture of every proposal so far (:func:`log_proposal_mixture`). Generation t
draws its random numbers from ``(seed, t)`` only, so a resumed run equals an
uninterrupted one. See ``calibration/README.md`` for why this method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np


class Method(Protocol):
    """The settings the algorithm reads (``sim.analysis.calibrate.Method`` is one)."""

    seed: int
    population: int
    kept: int
    generations: int
    min_acceptance: float
    kernel: str  # "olcm" or "gaussian"


@dataclass(frozen=True)
class Box:
    """Uniform priors; the kernel works on u = logit((x - low) / (high - low))."""

    low: np.ndarray
    high: np.ndarray

    def to_u(self, x: np.ndarray) -> np.ndarray:
        p = np.clip((x - self.low) / (self.high - self.low), 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)

    def to_x(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) / (1.0 + np.exp(-u))

    @staticmethod
    def log_prior_u(u: np.ndarray) -> np.ndarray:
        """Log density of u when x is uniform: the standard logistic, per coordinate."""
        return -np.sum(np.abs(u) + 2.0 * np.log1p(np.exp(-np.abs(u))), axis=-1)


@dataclass
class Generation:
    """The kept population after generation ``index``."""

    index: int
    u: np.ndarray  # (kept, parameters) on the logit scale
    weights: np.ndarray  # importance weights (not normalised)
    distances: np.ndarray
    sims: np.ndarray  # (kept, replications, fitted observations)
    epsilon: float  # the tolerance: largest kept distance
    acceptance: float  # share of this generation's new sets within the previous tolerance
    simulated: int  # parameter sets simulated so far

    @property
    def normalised(self) -> np.ndarray:
        return self.weights / self.weights.sum()

    @property
    def ess(self) -> float:
        w = self.normalised
        return float(1.0 / np.sum(w**2))


def weighted_cov(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    cov = np.atleast_2d(np.cov(u.T, aweights=w))
    return cov + np.eye(len(cov)) * 1e-9 * max(1.0, float(np.trace(cov)))


@dataclass(frozen=True)
class Kernel:
    """A mixture of Gaussian kernels: centre j has weight w_j and covariance chol[j] @ chol[j].T."""

    centres: np.ndarray  # (n, p)
    w: np.ndarray  # (n,), normalised
    chol: np.ndarray  # (n, p, p): lower Cholesky factor of each centre's covariance

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        parents = rng.choice(len(self.w), size=n, p=self.w)
        z = rng.standard_normal((n, self.centres.shape[1]))
        return self.centres[parents] + (self.chol[parents] @ z[:, :, None])[:, :, 0]

    def log_density(self, u: np.ndarray) -> np.ndarray:
        """log of sum_j w_j N(u | centre_j, cov_j) for each row of u."""
        inv = np.linalg.inv(self.chol)
        diff = u[None, :, :] - self.centres[:, None, :]  # (centres, sets, p)
        z2 = np.sum((diff @ np.swapaxes(inv, 1, 2)) ** 2, axis=-1).T  # (sets, centres)
        log_det = np.sum(np.log(np.diagonal(self.chol, axis1=1, axis2=2)), axis=1)
        terms = -0.5 * z2 - 0.5 * u.shape[1] * np.log(2 * np.pi) - log_det[None, :] + np.log(self.w)[None, :]
        top = terms.max(axis=1, keepdims=True)
        return (top + np.log(np.sum(np.exp(terms - top), axis=1, keepdims=True)))[:, 0]


Simulator = Callable[[np.ndarray, int], np.ndarray]  # (x sets, generation) -> sims (sets, reps, obs)
Distance = Callable[[np.ndarray], np.ndarray]  # sims -> distance per set


def first_generation(simulate: Simulator, distance: Distance, box: Box, method: Method) -> Generation:
    rng = np.random.default_rng([method.seed, 0])
    x = box.low + (box.high - box.low) * rng.random((method.population, len(box.low)))
    sims = simulate(x, 0)
    d = distance(sims)
    keep = np.argsort(d, kind="stable")[: method.kept]
    return Generation(0, box.to_u(x[keep]), np.ones(len(keep)), d[keep], sims[keep], float(d[keep].max()), 1.0,
                      method.population)


def olcm_covariances(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The optimal local covariance matrix of Filippi et al. (2013) for each kept set j, taken over
    all kept sets (Filippi et al. take those within the next tolerance, which an adaptive population
    Monte Carlo does not know before it simulates): the weighted second moment of the kept sets about u_j, sum_k w_k (u_k - u_j)(u_k - u_j)^T = C + (m - u_j)(m - u_j)^T
    with w normalised and m, C the weighted mean and (plain, not bias-corrected) covariance.
    A set far from the others gets a kernel stretched back towards them and beyond, so the
    proposal covers the tails of the kept population."""
    mean = w @ u
    cov = (u - mean).T @ ((u - mean) * w[:, None])
    cov += np.eye(len(cov)) * 1e-9 * max(1.0, float(np.trace(cov)))
    off = mean[None, :] - u
    return cov[None] + off[:, :, None] * off[:, None, :]


def proposal_of(gen: Generation, method: Method) -> Kernel:
    """The kernel mixture the next generation draws from: a kernel on every kept set, chosen by its
    weight; ``olcm`` gives each its own covariance, ``gaussian`` all twice the weighted covariance."""
    w = gen.normalised
    if method.kernel == "olcm":
        covs = olcm_covariances(gen.u, w)
    else:
        covs = np.broadcast_to(2.0 * weighted_cov(gen.u, w), (len(w),) + (gen.u.shape[1],) * 2)
    return Kernel(gen.u, w, np.linalg.cholesky(covs))


def log_proposal_mixture(u: np.ndarray, history: list[Generation], method: Method) -> np.ndarray:
    """log of the density every set so far was drawn from, taken as one mixture: the prior for the
    first generation's ``population`` sets, then each generation's kernel mixture for its new sets,
    each in proportion to how many sets it drew (the deterministic mixture of Cornuet et al.'s AMIS)."""
    n_new = method.population - method.kept
    total = method.population + n_new * (len(history) - 1)
    terms = [np.log(method.population / total) + Box.log_prior_u(u)]
    for gen in history[:-1]:
        terms.append(np.log(n_new / total) + proposal_of(gen, method).log_density(u))
    stacked = np.vstack(terms)
    top = stacked.max(axis=0)
    return top + np.log(np.sum(np.exp(stacked - top), axis=0))


def next_generation(history: list[Generation], simulate: Simulator, distance: Distance, box: Box,
                    method: Method) -> Generation:
    """Draw new sets from the last generation's kernel mixture, keep the closest ``kept`` of old
    and new, and weigh every kept set by prior / the mixture of all proposals so far. Weighing old
    and new sets against the same mixture (rather than each against the proposal it came from)
    keeps the weights even, so the effective sample size stays high."""
    prev = history[-1]
    t = prev.index + 1
    rng = np.random.default_rng([method.seed, t])
    n_new = method.population - method.kept
    u_new = proposal_of(prev, method).sample(rng, n_new)
    sims_new = simulate(box.to_x(u_new), t)
    d_new = distance(sims_new)
    acceptance = float(np.mean(d_new < prev.epsilon))
    u = np.vstack([prev.u, u_new])
    d = np.concatenate([prev.distances, d_new])
    sims = np.concatenate([prev.sims, sims_new])
    keep = np.argsort(d, kind="stable")[: method.kept]
    placeholder = Generation(t, u[keep], np.ones(len(keep)), d[keep], sims[keep], float(d[keep].max()), acceptance,
                             prev.simulated + n_new)
    log_w = box.log_prior_u(u[keep]) - log_proposal_mixture(u[keep], history + [placeholder], method)
    placeholder.weights = np.exp(log_w - log_w.max())
    return placeholder


def finished(gen: Generation, method: Method) -> bool:
    return gen.index + 1 >= method.generations or (gen.index > 0 and gen.acceptance < method.min_acceptance)


def abc_smc(simulate: Simulator, distance: Distance, box: Box, method: Method, history: list[Generation] | None = None,
            on_generation: Callable[[Generation], None] | None = None) -> list[Generation]:
    """Run (or continue) APMC until it stops; returns every generation's kept population."""
    history = list(history or [])
    if not history:
        history.append(first_generation(simulate, distance, box, method))
        if on_generation:
            on_generation(history[-1])
    while not finished(history[-1], method):
        history.append(next_generation(history, simulate, distance, box, method))
        if on_generation:
            on_generation(history[-1])
    return history


def scaled_rms(observed: np.ndarray, scale: np.ndarray) -> Distance:
    """Distance of the mean over replications: RMS of (simulated - observed) / scale; NaN gives inf."""
    def distance(sims: np.ndarray) -> np.ndarray:
        z = (sims.mean(axis=1) - observed) / scale
        d = np.sqrt(np.mean(z**2, axis=1))
        return np.where(np.isfinite(d), d, np.inf)

    return distance
