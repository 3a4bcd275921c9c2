"""Grad-CAM (keras-io): the RG logit's gradient w.r.t. the last convolutional feature map,
upsampled onto the original photograph, so a reader sees whether the model looked at the disc."""

from __future__ import annotations

from pathlib import Path

from glaucli.data.images import load_image


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

    def heatmap(self, image):
        """A (h, w) float map in [0, 1] for one raw RGB image of the model's size."""
        import numpy as np

        from glaucli.tf import tensorflow

        tf = tensorflow()
        x = tf.convert_to_tensor(np.asarray(image, dtype="float32")[None])
        with tf.GradientTape() as tape:
            features, logit = self.model(x, training=False)
            target = logit[:, 0]
        grads = tape.gradient(target, features)
        if grads is None:
            return np.zeros(tuple(features.shape[1:3]), dtype="float32")
        weights = tf.reduce_mean(grads, axis=(1, 2))  # one weight per channel
        cam = tf.nn.relu(tf.reduce_sum(features * weights[:, None, None, :], axis=-1))[0].numpy()
        top = float(cam.max())
        if not np.isfinite(top) or top <= 1e-12:  # all-zero gradients: an empty, not a noisy, map
            return np.zeros_like(cam, dtype="float32")
        return (cam / top).astype("float32")

    def heatmap_of(self, path: Path):
        return self.heatmap(load_image(path, self.size))

    def overlay(self, path: Path, out: Path, alpha: float = 0.4) -> Path:
        return overlay(self.heatmap_of(path), path, out, alpha)


class AveragedGradCam:
    """An ensemble's Grad-CAM: the mean of its members' heatmaps, each on its own grid."""

    def __init__(self, cams: list[GradCam]):
        self.cams = cams

    def heatmap_of(self, path: Path):
        import numpy as np
        from PIL import Image

        maps = [cam.heatmap_of(path) for cam in self.cams]
        side = max(m.shape[0] for m in maps)
        resized = [np.asarray(Image.fromarray(m).resize((side, side), Image.Resampling.BILINEAR)) for m in maps]
        mean = np.mean(resized, axis=0)
        return mean / mean.max() if mean.max() > 1e-12 else mean

    def overlay(self, path: Path, out: Path, alpha: float = 0.4) -> Path:
        return overlay(self.heatmap_of(path), path, out, alpha)


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


def overlay(heat, path: Path, out: Path, alpha: float = 0.4) -> Path:
    """Write `heat` (a map in [0, 1]) over the original photo, at its own size, as a PNG."""
    import numpy as np
    from matplotlib import colormaps
    from PIL import Image

    photo = load_image(path)
    h, w = photo.shape[:2]
    side = max(h, w)  # the model saw the photo padded to a square: cut the padding off the map
    heat_img = Image.fromarray((heat * 255).astype("uint8")).resize((side, side), Image.Resampling.BILINEAR)
    left, top = (side - w) // 2, (side - h) // 2
    heat_img = heat_img.crop((left, top, left + w, top + h))
    colored = colormaps["jet"](np.asarray(heat_img) / 255.0)[..., :3] * 255
    blended = (1 - alpha) * photo + alpha * colored
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(blended, 0, 255).astype("uint8")).save(out)
    return out
