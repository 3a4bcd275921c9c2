"""The head phase on cached features: same layers, same training as live, resume, views."""

from __future__ import annotations

import signal

import numpy as np
import pytest

from glaucli import events
from glaucli.engine import feature_cache
from glaucli.engine import training as engine
from glaucli.errors import Interrupted
from glaucli.models import backbones, classifier
from tests.helpers import make_sample


def test_split_shares_the_head_layers_and_composes_to_the_model():
    model = classifier.build(backbones.get("mobilenet-v3-small"), 32).model
    features, head = feature_cache.split(model)
    assert head.get_layer("head_logits") is model.get_layer("head_logits")
    assert head.get_layer("head_dropout") is model.get_layer("head_dropout")
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(head(features(x))), np.asarray(model(x)), atol=1e-6)
    cnn = classifier.build(backbones.get("basic-cnn"), 32).model  # no pooled head: stays live
    assert feature_cache.split(cnn) is None


def _history(run):
    return [line.rsplit(",", 1)[0] for line in (run / "history.csv").read_text().splitlines()]  # no seconds


def _weights(path):
    import keras

    return keras.saving.load_model(path, safe_mode=True, compile=False).get_weights()


@pytest.mark.slow
def test_cached_head_trains_what_live_does_and_resumes(tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("GLAUCLI_RUN_EAGERLY", "1")
    data = make_sample(tmp_path / "d", per_class=10, size=40)
    weights = tmp_path / "mnv3.weights.h5"
    keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(weights)

    def config(name, **kw):
        return engine.TrainConfig(**{**dict(backbone="mobilenet-v3-small", data=data, runs_dir=tmp_path / "runs",
                                            image_size=32, batch_size=8, epochs=3, finetune_epochs=0,
                                            augment="none", seed=5, deterministic=True, weights=str(weights),
                                            name=name), **kw})

    live = engine.train(config("live", head_features="live"))
    seen = []
    cached = engine.train(config("cached"), lambda event: seen.append(getattr(event, "text", "")))
    assert any("cached features" in text for text in seen)
    assert _history(cached.run) == _history(live.run)  # same losses and AUCs, epoch by epoch
    for a, b in zip(_weights(live.run / "last.keras"), _weights(cached.run / "last.keras"), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    def kind(path):  # auto-generated layer names differ between builds; classes and shapes do not
        return [(type(layer).__name__, [w.shape for w in layer.weights])
                for layer in keras.saving.load_model(path).layers]

    assert kind(cached.run / "best.keras") == kind(live.run / "best.keras")
    assert not (cached.run / feature_cache.FILE).exists()  # removed once the phase is over

    def stop_after_one(event):
        if isinstance(event, events.EpochEnded) and event.epoch == 1:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(Interrupted):
        engine.train(config("cut"), stop_after_one)
    cut = tmp_path / "runs" / "train" / "cut"
    assert (cut / feature_cache.FILE).is_file()  # the features wait for the resume
    engine.resume(cut, {})
    assert _history(cut) == _history(cached.run)
    for a, b in zip(_weights(cut / "last.keras"), _weights(cached.run / "last.keras"), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.slow
def test_augmented_views_and_finetune_stay_live(tmp_path, monkeypatch, cli):
    import keras

    monkeypatch.setenv("GLAUCLI_RUN_EAGERLY", "1")
    data = make_sample(tmp_path / "d", per_class=6, size=40)
    weights = tmp_path / "mnv3.weights.h5"
    keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(weights)
    seen = []
    result = engine.train(engine.TrainConfig(backbone="mobilenet-v3-small", data=data, runs_dir=tmp_path / "runs",
                                             image_size=32, batch_size=4, epochs=2, finetune_epochs=1, seed=1,
                                             weights=str(weights)),
                          lambda event: seen.append(getattr(event, "text", "")))
    views = 1 + feature_cache.AUGMENTED_VIEWS
    assert any(f"({views} view(s))" in text for text in seen)
    rows = (result.run / "history.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["head", "head", "finetune"]
    assert result.meta["args"]["head_features"] == "cache"
