"""Recipe study on real photographs (issue 28): which input levers help glaucoma screening?

Screens levers cheaply: frozen ImageNet Xception features (global average pooled, the
backbone glaucli trains by default, preprocessed as glaucli does: x / 127.5 - 1) and a
logistic-regression probe (standardised features; C chosen per outer fold by an inner
grouped 3-fold CV over C_GRID), scored by 5-fold StratifiedGroupKFold by patient, repeated
over SEEDS. Reports per lever: the fold-mean AUC and its sd over folds x seeds, the pooled
out-of-fold AUC (seed 0) with a patient-bootstrap 95 % CI, the paired bootstrap difference
against the baseline (full photo at 299), and the feature extraction time per image.

This screens what the network can *see* with a frozen backbone; fine-tuning may rank the
levers differently, so the lead checks the winner with a real `glaucli train` run.

Needs ../shared/data/odir-dev and ../shared/weights (skips with a reason without them).
Features are cached under /tmp/study-cache (or $STUDY_CACHE), so reruns are free:

    python tests/benchmarks/bench_recipe_study.py                      # all levers, table
    python tests/benchmarks/bench_recipe_study.py full299 trim299      # only these (extract if needed)
    python tests/benchmarks/bench_recipe_study.py --cached             # table of what is cached
    python tests/benchmarks/bench_recipe_study.py --extract full384    # features only, no table
    python tests/benchmarks/bench_recipe_study.py --time full299 disc224  # s/image, back to back
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("GLAUCLI_SHARED", ROOT.parent / "shared"))
if not (SHARED / "data").is_dir():
    SHARED = Path("/work/shared")
DATA = SHARED / "data" / "odir-dev"
WEIGHTS = SHARED / "weights" / "xception_imagenet_notop.weights.h5"
CACHE = Path(os.environ.get("STUDY_CACHE", "/tmp/study-cache"))
SEEDS = (0, 1, 2)
FOLDS = 5
C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
BOOT = 1000
BATCH = 16

# name: (network input size, view, horizontal-flip TTA of the features)
#   view "full": glaucli's loader at that size (pad to square, bilinear), exactly the product
#   view "trim": the black surround cropped to the field of view's bounding square, then resized
#   view "disc": the disc-centred crop (3 disc diameters on a side), then resized
LEVERS = {
    "full299": (299, "full", False),
    "trim299": (299, "trim", False),
    "disc299": (299, "disc", False),
    "full299+disc299": None,  # two views: features concatenated
    "full299-flip": (299, "full", True),
    "disc299-flip": (299, "disc", True),
    "full224": (224, "full", False),
    "full384": (384, "full", False),
    "disc224": (224, "disc", False),
    "full224+disc224": None,
    "full299+disc224": None,
    "trim299+disc224": None,
    "trim299+disc299": None,
    "trim384": (384, "trim", False),
}
PAIRS = {"full299+disc299": ("full299", "disc299"), "full224+disc224": ("full224", "disc224"),
         "full299+disc224": ("full299", "disc224"), "trim299+disc224": ("trim299", "disc224"),
         "trim299+disc299": ("trim299", "disc299")}
BASELINE = "full299"


def dataset():
    with open(DATA / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    files = [DATA / "images" / r["file"] for r in rows]
    return files, np.array([int(r["label"]) for r in rows]), np.array([r["patient"] for r in rows])


def _view(path: Path, size: int, view: str) -> np.ndarray:
    from PIL import Image

    from glaucli.data.disc import disc_crop, locate_disc, trim_border
    from glaucli.data.images import load_image

    if view == "full":
        return load_image(path, size)
    image = load_image(path)
    part = trim_border(image) if view == "trim" else disc_crop(image, locate_disc(image))
    img = Image.fromarray(part)
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)  # the loader's filter
    return np.asarray(img, dtype=np.uint8)


_KEYS: dict = {}


def _key(name: str, files) -> str:
    if name not in _KEYS:
        _KEYS[name] = _compute_key(name, files)
    return _KEYS[name]


def _compute_key(name: str, files) -> str:
    size, view, flip = LEVERS[name]
    h = hashlib.sha256(f"{size}{view}{flip}".encode())
    for f in files:
        h.update(f.name.encode())
    if view != "full":  # keyed on the crops themselves: a code change that moves none is free
        from glaucli.data.disc import CROP_DIAMETERS, find_field, locate_disc
        from glaucli.data.images import load_image

        for f in files:
            image = load_image(f)
            box = find_field(image).box if view == "trim" else locate_disc(image)
            h.update(repr((box, CROP_DIAMETERS if view == "disc" else None)).encode())
    return h.hexdigest()[:12]


def features(name: str, files) -> tuple[np.ndarray, float]:
    """(n, 2048) features and seconds per image (load + view + network), cached."""
    size, view, flip = LEVERS[name]
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = CACHE / f"{name}-{_key(name, files)}"
    if stem.with_suffix(".npy").exists():
        meta = json.loads(stem.with_suffix(".json").read_text())
        return np.load(stem.with_suffix(".npy")), meta["s_per_image"]
    from glaucli.tf import enable_onednn_for_cli, onednn_state

    enable_onednn_for_cli()  # as the command line does
    import keras

    model = keras.applications.Xception(include_top=False, weights=None, input_shape=(size, size, 3),
                                        pooling="avg")
    model.load_weights(str(WEIGHTS))
    model.predict(np.zeros((2, size, size, 3), np.float32), verbose=0)  # warm-up, not timed
    out, t0 = [], time.perf_counter()
    for i in range(0, len(files), BATCH):
        x = np.stack([_view(f, size, view) for f in files[i:i + BATCH]]).astype(np.float32)
        x = x / 127.5 - 1.0  # glaucli's "tf" preprocessing (Rescaling(1/127.5, offset=-1))
        f = model.predict_on_batch(x)
        if flip:
            f = (f + model.predict_on_batch(x[:, :, ::-1])) / 2
        out.append(np.asarray(f))
        print(f"  {name}: {min(i + BATCH, len(files))}/{len(files)}", file=sys.stderr, flush=True)
    spi = (time.perf_counter() - t0) / len(files)
    feats = np.concatenate(out)
    np.save(stem.with_suffix(".npy"), feats)
    stem.with_suffix(".json").write_text(json.dumps({
        "s_per_image": spi, "size": size, "view": view, "flip": flip, "n": len(files),
        "onednn": onednn_state(), "load_avg": os.getloadavg(), "cpus": os.cpu_count(),
        "at": time.strftime("%Y-%m-%d %H:%M:%S")}))
    return feats, spi


def timing(names, files, n: int) -> dict:
    """Seconds per image (load + view + network, batch BATCH) of each lever on the same first
    `n` photos, one lever after the other in one process: comparable between levers, unlike
    the extraction times, which ran at whatever load the shared machine had then."""
    from glaucli.tf import enable_onednn_for_cli

    enable_onednn_for_cli()
    import keras

    out = {}
    for name in names:
        size, view, flip = LEVERS[name]
        model = keras.applications.Xception(include_top=False, weights=None, input_shape=(size, size, 3),
                                            pooling="avg")
        model.load_weights(str(WEIGHTS))
        model.predict_on_batch(np.zeros((BATCH, size, size, 3), np.float32))  # warm-up
        t0 = time.perf_counter()
        for i in range(0, n, BATCH):
            x = np.stack([_view(f, size, view) for f in files[i:min(i + BATCH, n)]]).astype(np.float32)
            model.predict_on_batch(x / 127.5 - 1.0)
            if flip:
                model.predict_on_batch(x[:, :, ::-1] / 127.5 - 1.0)
        out[name] = (time.perf_counter() - t0) / n
        print(f"  {name}: {out[name]:.3f} s/image (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    return out


def _probe(xt, yt, xv, cs):
    """P(RG) on `xv` of the standardised L2 logistic probe fitted on (xt, yt), for each C."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(xt)
    zt, zv = scaler.transform(xt), scaler.transform(xv)
    return {c: LogisticRegression(C=c, max_iter=5000).fit(zt, yt).predict_proba(zv)[:, 1] for c in cs}


def _probe_oof(x, y, groups, seed):
    """Out-of-fold P(RG) and per-fold AUCs of the logistic probe."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    oof, aucs = np.zeros(len(y)), []
    outer = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed)
    for train, test in outer.split(x, y, groups):
        inner = StratifiedGroupKFold(3, shuffle=True, random_state=seed)
        scores = {c: [] for c in C_GRID}
        for itr, iva in inner.split(x[train], y[train], groups[train]):
            for c, p in _probe(x[train][itr], y[train][itr], x[train][iva], C_GRID).items():
                scores[c].append(roc_auc_score(y[train][iva], p))
        best = max(C_GRID, key=lambda c: np.mean(scores[c]))
        oof[test] = _probe(x[train], y[train], x[test], [best])[best]
        aucs.append(roc_auc_score(y[test], oof[test]))
    return oof, aucs


def _boot_idx(groups, rng):
    """Index resample by patient (both eyes of a drawn patient come together)."""
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    for _ in range(BOOT):
        yield np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))])


def _auc(y, p):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(y, p) if 0 < y.sum() < len(y) else np.nan


def evaluate(x, y, groups):
    per_seed = [_probe_oof(x, y, groups, s) for s in SEEDS]
    folds = np.concatenate([a for _, a in per_seed])
    return {"fold_mean": float(folds.mean()), "fold_sd": float(folds.std(ddof=1)),
            "oof": per_seed[0][0], "pooled": float(_auc(y, per_seed[0][0])),
            "oofs": [p.tolist() for p, _ in per_seed]}


def main(argv):
    if not DATA.is_dir() or not WEIGHTS.is_file():
        print(f"skipped: needs {DATA} and {WEIGHTS}", file=sys.stderr)
        return 0
    cached_only = "--cached" in argv
    names = [a for a in argv if not a.startswith("--")] or list(LEVERS)
    files, y, groups = dataset()
    timed = CACHE / "timing.json"
    if "--time" in argv:
        measured = timing([n for n in names if n not in PAIRS], files, 64)
        old = json.loads(timed.read_text()) if timed.exists() else {}
        timed.write_text(json.dumps(dict(old, **measured, _load=os.getloadavg())))
        return 0
    feats, times = {}, {}

    def get(name):
        if name not in feats:
            if name in PAIRS:
                parts = [get(p) for p in PAIRS[name]]
                if any(p is None for p in parts):
                    return None
                feats[name] = np.concatenate([feats[p] for p in PAIRS[name]], axis=1)
                times[name] = sum(times[p] for p in PAIRS[name])
            else:
                stem = CACHE / f"{name}-{_key(name, files)}"
                if cached_only and not stem.with_suffix(".npy").exists():
                    return None
                feats[name], times[name] = features(name, files)
        return feats[name]

    order = [BASELINE] + [n for n in names if n != BASELINE]
    available = [n for n in order if get(n) is not None]  # all extraction first, then probes
    if "--extract" in argv:
        return 0
    from threadpoolctl import threadpool_limits

    results = {}
    for name in available:
        parts = PAIRS.get(name, (name,))
        key = hashlib.sha256(repr(("v2", SEEDS, FOLDS, C_GRID, [_key(p, files) for p in parts])).encode())
        stored = CACHE / f"probe-{name}-{key.hexdigest()[:12]}.json"
        if stored.exists():  # the probe's results are cached too
            r = json.loads(stored.read_text())
            results[name] = dict(r, oof=np.array(r["oof"]))
            continue
        t0 = time.perf_counter()
        with threadpool_limits(1):  # small fits: threaded BLAS on busy cores was 10-30x slower
            results[name] = evaluate(feats[name], y, groups)
        stored.write_text(json.dumps(dict(results[name], oof=results[name]["oof"].tolist())))
        print(f"  probe {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    # Seconds per image: the back-to-back timing pass where there is one (comparable between
    # levers), else the extraction's own time (at whatever load the machine had then).
    back_to_back = json.loads(timed.read_text()) if timed.exists() else {}
    for name in results:
        parts = PAIRS.get(name, (name,))
        if all(p in back_to_back for p in parts):
            times[name] = sum(back_to_back[p] for p in parts)
    rng = np.random.default_rng(0)
    idx = list(_boot_idx(groups, rng))
    base = results.get(BASELINE)
    print(f"\nodir-dev: {len(y)} photos ({int(y.sum())} glaucoma), {len(np.unique(groups))} patients; "
          f"probe: standardised logistic regression, C from {C_GRID} by inner grouped 3-fold CV; "
          f"{FOLDS}-fold StratifiedGroupKFold by patient x seeds {SEEDS}; CIs: {BOOT} patient "
          f"bootstraps of the seed-0 pooled out-of-fold AUC; s/image: load + view + Xception "
          f"forward pass, batch {BATCH}, {os.cpu_count()} CPUs"
          f"{', back to back on 64 photos' if back_to_back else ', during extraction'}\n")
    print("| lever | fold-mean AUC (sd) | pooled OOF AUC, seed 0 [95 % CI] | pooled, 3 seeds: mean "
          "(min-max) | vs full299, seed 0 [paired 95 % CI] | vs full299, 3 seeds (min-max) | s/image |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        boots = np.array([_auc(y[i], r["oof"][i]) for i in idx])
        lo, hi = np.nanpercentile(boots, [2.5, 97.5])
        seeds = np.array([_auc(y, np.array(o)) for o in r["oofs"]])
        diff = diffs = "-"
        if base is not None and name != BASELINE:
            d = np.array([_auc(y[i], r["oof"][i]) - _auc(y[i], base["oof"][i]) for i in idx])
            dlo, dhi = np.nanpercentile(d, [2.5, 97.5])
            diff = f"{r['pooled'] - base['pooled']:+.3f} [{dlo:+.3f}, {dhi:+.3f}]"
            ds = seeds - np.array([_auc(y, np.array(o)) for o in base["oofs"]])
            diffs = f"{ds.mean():+.3f} ({ds.min():+.3f} to {ds.max():+.3f})"
        print(f"| {name} | {r['fold_mean']:.3f} ({r['fold_sd']:.3f}) | {r['pooled']:.3f} "
              f"[{lo:.3f}, {hi:.3f}] | {seeds.mean():.3f} ({seeds.min():.3f}-{seeds.max():.3f}) | {diff} | "
              f"{diffs} | {times[name]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
