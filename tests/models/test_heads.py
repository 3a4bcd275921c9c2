"""The output head: one function builds it for the classifier and the concat ensemble."""

from __future__ import annotations


def _head(model) -> list[tuple[str, str, str]]:
    names = ("head_dropout", "head_logits", "probability")
    return [(layer.name, type(layer).__name__, layer.dtype_policy.name) for layer in model.layers
            if layer.name in names]


def test_classifier_and_concat_end_in_the_same_head():
    from glaucli.models import classifier, ensemble
    from glaucli.models.backbones import get

    bb = get("basic-cnn")
    single = classifier.build(bb, 32).model
    concat = ensemble.build_concat([bb, bb], 32, [32, 32], None)[0].model
    expected = [("head_dropout", "Dropout", "float32"), ("head_logits", "Dense", "float32"),
                ("probability", "Activation", "float32")]
    assert _head(single) == _head(concat) == expected
    assert single.get_layer("head_dropout").rate == 0.2
    seed = classifier.build(get("xception"), 71, head="seed").model
    assert "head_dropout" not in [layer.name for layer in seed.layers]  # its own dropout2 instead
    assert [layer.name for layer in seed.layers][-3:] == ["head_dropout2", "head_logits", "probability"]
