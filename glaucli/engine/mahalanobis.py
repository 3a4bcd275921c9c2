"""The statistics of the distribution check (engine/ood.py): a Gaussian of pooled features,
an image's Mahalanobis distance to it, and the cut-off beyond which an image is unlike the
training photographs. Plain numpy/scipy/scikit-learn: no model, no files."""

from __future__ import annotations

from dataclasses import dataclass

PERCENTILE = 99.0
MAX_COMPONENTS = 256   # principal axes kept; the rest share one residual variance
FOLDS = 5              # training images scored out of fold, to set the cut-off with validation's
MAX_OUT_OF_FOLD = 1000 # training images scored so (a seeded subset above this)


@dataclass
class Gaussian:
    mean: object        # (d,)
    axes: object        # (k, d) orthonormal rows
    variances: object   # (k,)
    residual: float     # the mean variance of the d - k axes left out (0 when none are)

    @classmethod
    def fit(cls, features) -> Gaussian:
        import numpy as np
        from sklearn.covariance import LedoitWolf

        lw = LedoitWolf().fit(np.asarray(features, dtype=np.float64))
        values, vectors = np.linalg.eigh(lw.covariance_)  # ascending
        # A feature that never varied in training (a dead ReLU) must not make every other image infinitely far.
        values = np.maximum(values, 1e-6 * max(float(values.mean()), 1e-12))
        k = min(len(values), MAX_COMPONENTS)
        rest = values[:-k] if k < len(values) else values[:0]
        return cls(lw.location_.astype(np.float32), vectors[:, -k:].T.astype(np.float32),
                   values[-k:].astype(np.float32), float(rest.mean()) if rest.size else 0.0)

    def distance(self, features):
        """Mahalanobis distance of each row of `features` (n, d)."""
        import numpy as np

        centred = np.asarray(features, dtype=np.float32) - self.mean
        z = centred @ self.axes.T
        d2 = (z * z / self.variances).sum(axis=1)
        if self.residual > 0:  # the left-out axes: their share of the squared norm, one variance
            d2 += np.maximum((centred * centred).sum(axis=1) - (z * z).sum(axis=1), 0) / self.residual
        return np.sqrt(d2)


def out_of_fold(features, seed: int) -> object:
    """Each of (at most MAX_OUT_OF_FOLD) training rows' distance to a Gaussian fitted on the
    other folds: an out-of-sample score like a validation image's, from many more images. A
    row's distance to a Gaussian fitted on itself is smaller (in 2048-d with a few hundred
    images, much smaller), which is why these are not the full fit's training distances."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(features))[:MAX_OUT_OF_FOLD]
    if len(rows) < 2 * FOLDS:
        return np.zeros(0)
    folds = np.array_split(rows, FOLDS)
    return np.concatenate([Gaussian.fit(np.delete(features, fold, axis=0)).distance(features[fold])
                           for fold in folds])


def cutoff_of(scores, percentile: float = PERCENTILE) -> tuple[float, float, float]:
    """(cut-off, empirical percentile, log-normal bound) of validation scores. With few
    validation images the empirical 99th percentile is about their maximum, which 1 in n+1
    new in-distribution images exceeds; the log-normal prediction bound (Student t on the
    log scores) keeps the false-flag rate near 1 - percentile there. The larger one is used."""
    import numpy as np
    from scipy.stats import t

    scores = np.asarray(scores, dtype=np.float64)
    empirical = float(np.percentile(scores, percentile))
    logs = np.log(np.maximum(scores, 1e-12))
    n = len(logs)
    if n < 3:
        return empirical, empirical, empirical
    spread = float(logs.std(ddof=1)) * float(np.sqrt(1 + 1 / n))
    bound = float(np.exp(logs.mean() + t.ppf(percentile / 100, n - 1) * spread))
    return max(empirical, bound), empirical, bound


def combine(distances: list, scales) -> object:
    """One score per image: the distance itself, or the members' mean of distance / own cut-off."""
    import numpy as np

    if len(distances) == 1:
        return distances[0]
    return np.mean([d / s for d, s in zip(distances, scales)], axis=0)


@dataclass
class Fitted:
    gaussians: list
    scales: list              # per part: its own cut-off, the unit of an ensemble's mean score
    cutoff: tuple             # cutoff_of(): (cut-off, empirical percentile, log-normal bound)
    validation_scores: object
    out_of_fold_scores: object


def fit(train: list, val: list, percentile: float = PERCENTILE, seed: int = 0) -> Fitted:
    """The check from each part's training and validation features: one Gaussian per part on
    all training rows; the cut-off from validation and out-of-fold training scores together."""
    import numpy as np

    gaussians = [Gaussian.fit(f) for f in train]
    val_dist = [g.distance(f) for g, f in zip(gaussians, val)]
    oof_dist = [out_of_fold(f, seed) for f in train]  # the same rows for every part (same seed)
    unseen = [np.concatenate([v, o]) for v, o in zip(val_dist, oof_dist)]
    scales = [cutoff_of(d, percentile)[0] for d in unseen]
    return Fitted(gaussians, scales, cutoff_of(combine(unseen, scales), percentile),
                  combine(val_dist, scales), combine(oof_dist, scales))
