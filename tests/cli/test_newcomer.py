"""Issue 18: what a newcomer trips over (usage errors, help texts, --json, messages)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer.main
from rich.markup import render

from glaucli.cli.app import app
from glaucli.errors import brief

README = Path(__file__).resolve().parents[2] / "README.md"


def _leaf_commands():
    """(path, click command) for every command a user can run, ensemble subcommands included."""
    todo = [("", typer.main.get_command(app))]
    while todo:
        path, cmd = todo.pop()
        subs = getattr(cmd, "commands", None)
        if subs:
            todo += [(f"{path} {name}".strip(), sub) for name, sub in subs.items()]
        else:
            yield path, cmd


@pytest.mark.parametrize("args", [
    ["sample", "x", "--size", "3"],  # click: out of range
    ["no-such-command"],
    ["--bogus"],  # root-level option
    ["predict"],  # missing argument
    ["data", "--jsn"],
    ["evaluate", "--split", "nope"],  # glaucli's own UsageError, raised in the command
])
def test_usage_errors_are_one_error_line_and_a_hint(cli, args):
    result = cli(*args, code=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: ") and lines[1].startswith("Hint: ") and "--help" in lines[1]
    assert not any(box in result.stderr for box in "╭│╰")
    assert result.stdout == ""


def test_brief_cuts_at_a_word_boundary():
    exc = ValueError("Layer 'dense' expected 2 variables, but received 0 variables during loading. "
                     "Note that this happens when the architecture differs from the saved one.")
    text = brief(exc, 90)
    assert text.endswith(" ...") and len(text) <= 94
    assert text[:-4] == exc.args[0][:len(text) - 4] and exc.args[0][len(text) - 4] == " "
    assert brief(ValueError("short")) == "short" and brief(ValueError()) == "ValueError"


def test_no_help_text_loses_markup():
    """`glaucli[export]` in a help text is read as a rich tag and vanishes unless escaped."""
    for path, cmd in [("", typer.main.get_command(app)), *_leaf_commands()]:
        for text in [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]:
            assert render(text).plain == text.replace("\\[", "["), f"glaucli {path}: {text!r}"


def test_export_help_keeps_the_extra_name(cli):
    out = " ".join(cli("export", "--help").stdout.split())
    assert "glaucli[export]" in out


def test_json_is_taken_by_every_command_the_readme_says():
    """README: `--json` after every command except those it names."""
    text = " ".join(README.read_text().split())
    sentence = re.search(r"`--json` is accepted after every command except ([^.]+)\.", text)
    assert sentence, "README must say which commands take --json"
    exempt = set(re.findall(r"`glaucli ([a-z ]+)`", sentence.group(1)))
    for path, cmd in _leaf_commands():
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert "--quiet" in opts, path
        assert ("--json" in opts) == (path not in exempt), path


def test_csv_dash_means_stdout(cli, trained, tmp_path, monkeypatch):
    import csv
    import io

    monkeypatch.chdir(tmp_path)
    image = sorted((trained["data"] / "validation" / "RG").glob("*.jpg"))[0]  # in distribution
    result = cli("predict", image, "--model", trained["run"], "--csv", "-")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["image"] for r in rows] == [str(image)] and rows[0]["label"] in ("RG", "NRG")
    assert not (tmp_path / "-").exists() and "saved to -" not in result.stderr


def test_dash_is_never_a_folder(cli, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0]
    assert "--explain" in cli("predict", image, "--model", trained["run"], "--explain", "-", code=2).stderr
    assert "--output" in cli("evaluate", trained["run"], "--output", "-", code=2).stderr
    assert "--output" in cli("export", trained["run"], "--output", "-", code=2).stderr
    assert "--output" in cli("report", trained["run"], "--output", "-", code=2).stderr
    assert "--html" in cli("compare", trained["run"], "--html", "-", code=2).stderr
    assert not (tmp_path / "-").exists()


def test_evaluate_without_bootstrap_has_no_empty_interval_column(cli, trained, tmp_path):
    result = cli("evaluate", trained["run"], "--bootstrap", "0", "--output", tmp_path / "ev")
    assert "95 % CI" not in result.stdout and "auc" in result.stdout


def test_runs_resume_hint_goes_to_stderr(cli, tmp_path):
    import json

    run = tmp_path / "runs" / "train" / "xception"
    run.mkdir(parents=True)
    (run / "meta.json").write_text(json.dumps({"schema": 1, "kind": "train", "backbone": "xception",
                                               "status": "interrupted", "started_at": "2026-12-01T10:00:00+00:00",
                                               "resume": f"glaucli train --resume {run}"}))
    result = cli("runs")
    assert "--resume" not in result.stdout and f"glaucli train --resume {run}" in result.stderr
    assert "xception" in result.stdout


def test_small_transfers_are_not_zero_megabytes(capsys):
    from glaucli import console

    console.reset()
    for total, expected in ((40_000, "40.0/40.0 kB"), (512, "512.0/512.0 B"), (3_500_000, "3.5/3.5 MB")):
        with console.Progress("Extracting", total, "bytes") as bar:
            bar.update(total)
        assert f"Extracting: {expected}" in capsys.readouterr().err


def test_info_is_a_checkup(cli, tmp_path, monkeypatch):
    cache = tmp_path / "keras-home" / "models"
    cache.mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(cache.parent))
    for name in ("xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
                 "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
                 "resnet50_weights_tf_dim_ordering_tf_kernels.h5"):  # with top: not usable as a backbone
        (cache / name).write_bytes(b"")
    result = cli("info", "--json")
    info = json.loads(result.stdout)
    assert set(info["imagenet_weights"]["cached"]) == {"xception", "mobilenet-v3-small"}
    assert set(info["extras"]) == {"tf2onnx", "onnxruntime", "tensorboard"}
    assert info["disk"]["data_dir"]["free_gb"] > 0 and info["disk"]["runs_dir"]["free_gb"] > 0
    assert info["memory"]["total_gb"] > 0 and info["memory"]["cpus"] >= 1
    dev = info["devices"]
    assert isinstance(dev["cuda_build"], bool)
    assert (dev["no_gpu_reason"] is None) == bool(dev["gpus"])  # no GPU always comes with a reason
    assert "importing TensorFlow" in result.stderr
    table = cli("info").stdout
    assert "ImageNet weights" in table and "free" in table and "GPU" in table


def test_meta_records_what_the_run_did(trained):
    """basic-cnn trains from scratch in one phase: no ImageNet weights, no fine-tuning."""
    meta = json.loads((trained["run"] / "meta.json").read_text())
    args = meta["args"]
    assert args["weights"] == "none" and meta["weights"] == "none"
    assert args["finetune_epochs"] == 0 and "finetune_lr" not in args and "unfreeze" not in args
    assert args["image_size"] == meta["image_size"] == 48 and args["epochs"] == 12
    assert [p["name"] for p in meta["phases"]] == ["train"]


def test_concat_takes_basic_cnn_and_names_every_member(cli, sample_set, tmp_path, monkeypatch):
    from glaucli.models import classifier
    from glaucli.runs import read_meta

    monkeypatch.setenv("GLAUCLI_RUN_EAGERLY", "1")
    result = cli("ensemble", "concat", "basic-cnn", "mobilenet-v3-small", "--data", sample_set, "--runs-dir",
                 tmp_path / "runs", "--weights", "none", "--image-size", "32", "--epochs", "1", "--json")
    assert "Training concat(basic-cnn, mobilenet-v3-small)" in result.stderr  # not just the first member
    run = Path(json.loads(result.stdout)["run"])
    meta = read_meta(run)
    assert [m["backbone"] for m in meta["members"]] == ["basic-cnn", "mobilenet-v3-small"]
    assert meta["members"][0]["gradcam_layer"] == "head_m0_pool3"
    from glaucli.engine.scoring import load_model

    model = load_model(run / "best.keras")
    model.get_layer("head_pool_0")  # basic-cnn's last block is pooled like the backbone's features
    # From scratch, basic-cnn's layers train with the head in every phase (never frozen as backbone).
    assert not any(layer.name.startswith("head_m0_") for layer in classifier.backbone_layers(model))
    cams = tmp_path / "cams"
    cli("predict", sample_set / "test" / "RG", "--model", run, "--explain", cams, "--json")
    assert len(list(cams.glob("*_gradcam.png"))) == len(list((sample_set / "test" / "RG").glob("*.jpg")))


def test_concat_refusal_comes_before_any_work(cli, tmp_path):
    """The weights are checked first: a missing --data would otherwise answer (exit 3) only
    after the dataset was resolved, and the old refusal came after TensorFlow built models."""
    result = cli("ensemble", "concat", "xception", "resnet50", "--data", tmp_path / "nowhere", "--weights",
                 tmp_path / "w.h5", code=2)
    assert "--weights imagenet or none" in result.stderr and "Hint:" in result.stderr


def test_each_evaluation_keeps_its_own_folder_and_says_its_settings(cli, trained, tmp_path):
    import shutil

    run = tmp_path / "run"  # a copy without eval/: other tests add their own evaluations to the shared run
    shutil.copytree(trained["run"], run, ignore=shutil.ignore_patterns("eval"))
    plain = cli("evaluate", run, "--bootstrap", "20")
    first = (run / "eval" / "test" / "metrics.json").read_text()
    tta = cli("evaluate", run, "--bootstrap", "20", "--tta")
    cli("evaluate", run, "--bootstrap", "0", "--threshold", "0.3")
    cli("evaluate", run, "--bootstrap", "0", "--target-specificity", "0.9")
    assert (run / "eval" / "test" / "metrics.json").read_text() == first  # not overwritten
    docs = {p.parent.name: json.loads(p.read_text()) for p in (run / "eval").glob("*/metrics.json")}
    assert set(docs) == {"test", "test-tta", "test-t0.3", "test-spec0.9"}
    assert docs["test-tta"]["tta"] is True and docs["test"]["tta"] is False
    assert docs["test-t0.3"]["threshold_source"] == "given" and docs["test-t0.3"]["threshold"] == 0.3
    assert docs["test-spec0.9"]["threshold_source"] == "target-specificity"
    said, said_tta = " ".join(plain.stdout.split()), " ".join(tta.stdout.split())
    assert "TTA off" in said and "(the run's)" in said
    assert "TTA on" in said_tta and "test-tta" in tta.stderr  # where it went


def test_curve_axes_name_the_class_not_label_1(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from glaucli.engine import metrics as screening
    from glaucli.engine.evaluate import plot_all

    labels = [0, 0, 0, 1, 1, 1]
    scores = [0.1, 0.4, 0.6, 0.35, 0.8, 0.9]
    axes_labels = {}
    original = Figure.savefig

    def recording(fig, path, *args, **kwargs):
        name = re.sub(r"^\.(.*)\.tmp-\d+(\.\w+)$", r"\1\2", Path(path).name)  # atomic writes' temp name
        axes_labels[name] = [text for ax in fig.axes for text in (ax.get_xlabel(), ax.get_ylabel())]
        return original(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording)
    plot_all(tmp_path, labels, scores, 0.5, screening.confusion(labels, scores, 0.5))
    for name in ("roc.png", "pr.png"):
        text = " ".join(axes_labels[name])
        assert "Positive label" not in text and "RG" in text, (name, text)
