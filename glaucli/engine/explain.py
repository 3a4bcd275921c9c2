"""Grad-CAM in its HiResCAM form: where the model found the evidence for its verdict.

keras-io's Grad-CAM averages the gradient over the map (one weight per channel), which
is exact only for a global-average-pooling head: on basic-cnn's Flatten head the
positive and negative weights cancel and the map comes out blank. HiResCAM multiplies
gradient and activation element-wise and sums over channels, which is faithful to any
head (for a linear head it is exactly each position's share of the logit). The map
explains the predicted class (RG: the logit, NRG: its negative) and is upsampled onto
the original photograph. A map with no positive evidence is reported as flat, never
shown as if it said something.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from glaucli.data.images import load_image
from glaucli.safety import Ledger, owned_path, replaceable

FLAT = "no attribution (flat map)"
MIN_SIDE = 512  # overlays are at least this many px on the long side


@dataclass
class Explanation:
    overlay: Path
    heatmap: Path
    flat: bool

    @property
    def note(self) -> str | None:
        return FLAT if self.flat else None


class GradCam:
    def __init__(self, model, layer_name: str):
        from glaucli.tf import keras

        k = keras()
        names = {layer.name for layer in model.layers}
        if layer_name not in names:  # not recorded (a bare .keras file): the last 4-D output
            layer_name = [layer.name for layer in model.layers
                          if len(getattr(layer.output, "shape", ())) == 4][-1]
        # The logit, not the sigmoid: the sigmoid saturates and its gradient vanishes.
        logit = model.get_layer("head_logits").output if "head_logits" in names else model.outputs[0]
        self.model = k.Model(model.inputs, [model.get_layer(layer_name).output, logit])
        self.size = int(model.inputs[0].shape[1])

    def heatmap(self, image, explain_rg: bool = True):
        """A (h, w) map in [0, 1] for one raw RGB image of the model's size: the evidence for
        RG (or, with explain_rg False, for NRG); all zeros when there is none."""
        import numpy as np

        from glaucli.tf import tensorflow

        tf = tensorflow()
        x = tf.convert_to_tensor(np.asarray(image, dtype="float32")[None])
        with tf.GradientTape() as tape:
            features, logit = self.model(x, training=False)
            target = logit[:, 0] if explain_rg else -logit[:, 0]
        grads = tape.gradient(target, features)
        if grads is None:
            return np.zeros(tuple(features.shape[1:3]), dtype="float32")
        cam = tf.nn.relu(tf.reduce_sum(tf.cast(grads, tf.float32) * tf.cast(features, tf.float32), axis=-1))
        return _normalised(cam[0].numpy())

    def heatmap_of(self, path: Path, explain_rg: bool = True):
        return self.heatmap(load_image(path, self.size), explain_rg)

    def overlay(self, path: Path, out: Path, probability: float | None = None,
                threshold: float | None = None) -> Path:
        return explain(self, path, out.parent, out.name.removesuffix("_gradcam.png").removesuffix(".png"),
                       probability, threshold).overlay


class AveragedGradCam:
    """An ensemble's map: the mean of its members' maps, each on its own grid."""

    def __init__(self, cams: list[GradCam]):
        self.cams = cams

    def heatmap_of(self, path: Path, explain_rg: bool = True):
        import numpy as np
        from PIL import Image

        maps = [cam.heatmap_of(path, explain_rg) for cam in self.cams]
        side = max(m.shape[0] for m in maps)
        resized = [np.asarray(Image.fromarray(m).resize((side, side), Image.Resampling.BILINEAR)) for m in maps]
        return _normalised(np.mean(resized, axis=0))

    overlay = GradCam.overlay


def _normalised(cam):
    import numpy as np

    top = float(np.max(cam)) if cam.size else 0.0
    if not np.isfinite(top) or top <= 1e-12:  # no positive evidence: an empty, not a noisy, map
        return np.zeros_like(cam, dtype="float32")
    return (np.nan_to_num(cam) / top).astype("float32")


def explainer_for(model, meta: dict):
    """Grad-CAM for a classifier, a concat ensemble (one map per member's backbone inside the
    one graph) or a mean/vote/stack ensemble (each nested member model on its own)."""
    members = meta.get("members")
    if meta.get("kind") == "ensemble" and meta.get("method") == "concat":
        return AveragedGradCam([GradCam(model, m["gradcam_layer"]) for m in members])
    if meta.get("kind") == "ensemble" and members:
        return AveragedGradCam([GradCam(model.get_layer(m["layer"]), m.get("gradcam_layer") or "")
                                for m in members])
    return GradCam(model, meta.get("gradcam_layer", ""))


def explain(explainer, path: Path, out_dir: Path, name: str, probability: float | None = None,
            threshold: float | None = None, ledger: Ledger | None = None) -> Explanation:
    """Write `<name>_gradcam.png` (the overlay with P(RG), the verdict and a colour bar) and
    `<name>_heatmap.png` (the raw map, 8-bit grayscale at the photo's size) into `out_dir`.
    The map explains the verdict: RG evidence for an RG verdict, NRG evidence otherwise.
    A file of either name that glaucli did not write is refused (exit 2), never replaced;
    `ledger`: the folder's provenance record, read once for a loop over many photos."""
    import numpy as np
    from PIL import Image

    cut = 0.5 if threshold is None else threshold
    explain_rg = probability is None or probability >= cut
    photo = load_image(path)
    heat = photo_sized(explainer.heatmap_of(path, explain_rg), photo.shape[:2])
    flat = not np.any(heat > 0)
    out_dir.mkdir(parents=True, exist_ok=True)
    heat_path, overlay_path = explain_targets(out_dir, name)
    ledger = ledger if ledger is not None and ledger.path.parent == out_dir else Ledger(out_dir)
    replaceable([heat_path, overlay_path], "--explain", ledger=ledger)
    _save_png(Image.fromarray(np.round(heat * 255).astype("uint8"), mode="L"), heat_path, ledger)
    _draw_overlay(photo, heat, overlay_path, probability, cut, explain_rg, flat, ledger=ledger)
    return Explanation(overlay_path, heat_path, flat)


def explain_targets(out_dir: Path, name: str) -> tuple[Path, Path]:
    """The two files explain() writes for one photo: (heatmap, overlay)."""
    return out_dir / f"{name}_heatmap.png", out_dir / f"{name}_gradcam.png"


def check_explain_dir(paths, out_dir: Path) -> None:
    """Before any work: refuse (exit 2) when a file predict --explain would write for `paths`
    is already in `out_dir` and glaucli did not write it (the names OutputNames will give)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return
    names, ledger = OutputNames(), Ledger(out_dir)
    replaceable((t for p in paths for t in explain_targets(out_dir, names(Path(p)))), "--explain", ledger=ledger)


def photo_sized(heat, shape):
    """The model's square map on the photo: the model saw it padded to a square, so the
    padding is cut off again."""
    import numpy as np
    from PIL import Image

    h, w = shape
    side = max(h, w)
    img = Image.fromarray(heat.astype("float32"), mode="F").resize((side, side), Image.Resampling.BILINEAR)
    left, top = (side - w) // 2, (side - h) // 2
    return np.clip(np.asarray(img.crop((left, top, left + w, top + h))), 0.0, 1.0)


def _draw_overlay(photo, heat, out: Path, probability, threshold, explain_rg, flat, alpha=0.6, ledger=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from glaucli.contract import VERDICTS

    h, w = photo.shape[:2]
    scale = max(1.0, MIN_SIDE / max(h, w))
    width, height = w * scale, h * scale
    bar, title = 90, 52  # px for the colour bar and the title lines
    fig = plt.figure(figsize=((width + bar) / 100, (height + title) / 100), dpi=100)
    ax = fig.add_axes((0, 0, width / (width + bar), height / (height + title)))
    ax.imshow(photo, interpolation="bilinear")
    shown = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), "jet")
    if not flat:  # opacity follows the evidence: where there is none the photo stays as it is
        rgba = shown.to_rgba(heat)
        rgba[..., 3] = alpha * heat
        ax.imshow(rgba, interpolation="bilinear")
    ax.set_axis_off()
    cax = fig.add_axes((width / (width + bar) + 0.02, 0.05, 0.03, 0.8 * height / (height + title)))
    if flat:
        cax.set_axis_off()
    else:
        cbar = fig.colorbar(shown, cax=cax)
        cbar.set_label(f"evidence for {'RG' if explain_rg else 'NRG'}", fontsize=8)
        cbar.ax.tick_params(labelsize=7)
    if probability is None:
        first = "Grad-CAM (HiResCAM)"
    else:
        verdict = VERDICTS[int(probability >= threshold)]
        first = f"P(RG) {probability:.4f} (threshold {threshold:.4f}): {verdict}"
    second = FLAT if flat else f"evidence for the {'RG' if explain_rg else 'NRG'} verdict (HiResCAM)"
    fig.text(0.01, 1 - 0.45 * title / (height + title), first, fontsize=9, va="center")
    fig.text(0.01, 1 - 0.8 * title / (height + title), second, fontsize=8, va="center",
             color="tab:red" if flat else "dimgray")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with owned_path(out, ledger) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)


def _save_png(image, out: Path, ledger=None) -> None:
    with owned_path(out, ledger) as tmp:
        image.save(tmp, format="PNG")


class OutputNames:
    """File names for per-image outputs in one folder that never collide: the photo's stem,
    then `-2`, `-3`... when two inputs share it (eye.jpg in two folders)."""

    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, path: Path) -> str:
        stem, n = path.stem, 1
        name = stem
        while name.lower() in self.used:
            n += 1
            name = f"{stem}-{n}"
        self.used.add(name.lower())
        return name
