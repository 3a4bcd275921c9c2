"""The backbone registry, as data: adding a backbone is one entry.

`preprocessing` says what the backbone expects of raw RGB 0-255 input:
"tf" (scaled to -1..1), "torch" (0..1 then ImageNet mean/std), "caffe" (BGR,
ImageNet mean subtracted), "scale01" (0..1), or "included" (the Keras
application already contains it: ConvNeXt, EfficientNetV2, MobileNetV3; do
not scale twice). `params` counts the backbone without its top.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from glaucli.errors import UsageError


@dataclass(frozen=True)
class Backbone:
    name: str
    constructor: str | None  # attribute of keras.applications; None: built by glaucli
    default_size: int
    min_size: int
    preprocessing: str
    unfreeze: str  # fine-tuning default: "all", a layer count, or a fraction of the backbone
    params: int
    pretrained: bool = True
    note: str = ""


REGISTRY: dict[str, Backbone] = {b.name: b for b in (
    Backbone("xception", "Xception", 299, 71, "tf", "0.3", 20_861_480,
             note="the original project's best (93.5 % test accuracy)"),
    Backbone("inception-resnet-v2", "InceptionResNetV2", 299, 75, "tf", "0.3", 54_336_736,
             note="92.1 % in the original project"),
    Backbone("basic-cnn", None, 128, 32, "scale01", "all", 19_392, pretrained=False,
             note="the original's simple CNN: 3 x (conv 32 + max-pool), dense 256; from scratch"),
    Backbone("convnext-tiny", "ConvNeXtTiny", 224, 32, "included", "0.3", 27_820_128,
             note="best on the v2 leaderboard (94.9 %)"),
    Backbone("efficientnet-v2-b0", "EfficientNetV2B0", 224, 32, "included", "0.3", 5_919_312),
    Backbone("mobilenet-v3-small", "MobileNetV3Small", 224, 32, "included", "0.3", 939_120),
    Backbone("mobilenet-v3-large", "MobileNetV3Large", 224, 32, "included", "0.3", 2_996_352),
    Backbone("resnet50", "ResNet50", 224, 32, "caffe", "0.3", 23_587_712),
    Backbone("densenet121", "DenseNet121", 224, 32, "torch", "0.3", 7_037_504),
)}
DEFAULT = "xception"


def get(name: str) -> Backbone:
    """The registry entry, or a usage error that suggests the closest name."""
    key = name.strip().lower().replace("_", "-")
    if key in REGISTRY:
        return REGISTRY[key]
    close = difflib.get_close_matches(key, REGISTRY, n=1, cutoff=0.4)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UsageError(f"unknown backbone {name!r}",
                     hint=f"{hint}known: {', '.join(REGISTRY)} (glaucli backbones)")
