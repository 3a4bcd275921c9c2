"""Any labelled collection: alias folders, CSV labels, manifests, splits, duplicates, external validation."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from glaucli.data.collection import DataSpec, from_record, resolve
from glaucli.data.labels import parse_classes
from glaucli.data.split import assign
from glaucli.errors import InputError, UsageError
from glaucli.runs import read_meta
from tests.helpers import make_sample


def _regroup(src: Path, dest: Path, names: dict[str, str], splits: bool = True) -> Path:
    """Copy a sample tree under other class folder names (and optionally without splits)."""
    for split in ("train", "validation", "test"):
        for cls, new in names.items():
            target = dest / split / new if splits else dest / new
            target.mkdir(parents=True, exist_ok=True)
            for f in sorted((src / split / cls).iterdir()):
                shutil.copy(f, target / f.name)
    return dest


def _flat_with_csv(src: Path, dest: Path, rows_extra=(), split_column: bool = False) -> Path:
    """An AIROGS-style flat folder plus a CSV `challenge_id,class` listing names without extension."""
    dest.mkdir(parents=True)
    rows = []
    for split in ("train", "validation", "test"):
        for cls in ("NRG", "RG"):
            for f in sorted((src / split / cls).iterdir()):
                shutil.copy(f, dest / f.name)
                rows.append([f.stem, cls] + ([split] if split_column else []))
    with open(dest / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["challenge_id", "class"] + (["split"] if split_column else []))
        writer.writerows([*rows, *rows_extra])
    return dest


def test_class_mapping_parsing():
    m = parse_classes("RG=glaucoma,NRG=normal,healthy")
    assert (m.label_of("Glaucoma"), m.label_of("HEALTHY"), m.label_of("normal"), m.label_of("suspect")) == (1, 0, 0, None)
    assert parse_classes("poag=RG,control=NRG").label_of("POAG") == 1
    auto = parse_classes(None)
    assert [auto.label_of(n) for n in ("Non-Glaucoma", "non_glaucoma", "glaucomatous", "1", "0.0", "NRG")] == [0, 0, 1, 1, 0, 0]
    with pytest.raises(UsageError, match="both RG and NRG"):
        parse_classes("RG=a,NRG=a")
    with pytest.raises(UsageError, match="NRG"):
        parse_classes("RG=glaucoma")
    with pytest.raises(UsageError, match="neither"):
        parse_classes("sick=ill")


@pytest.mark.parametrize("names,splits", [({"RG": "glaucoma", "NRG": "normal"}, True),
                                          ({"RG": "Glaucoma", "NRG": "Non-Glaucoma"}, False),
                                          ({"RG": "1", "NRG": "0"}, True)])
def test_alias_class_folders(tmp_path, names, splits):
    src = make_sample(tmp_path / "src", per_class=3, size=32)
    found = resolve(DataSpec(_regroup(src, tmp_path / "c", names, splits)))
    assert found.kind == "folders"
    if splits:
        assert found.counts()["train"] == {"NRG": 3, "RG": 3}
    else:
        assert found.splits() == [] and found.counts() == {"all": {"NRG": 7, "RG": 7}}
    assert found.describe()["classes"]["mapping"] == {v: k for k, v in names.items()}


def test_unknown_folders_are_an_error_that_lists_them_unless_mapped(cli, tmp_path):
    src = make_sample(tmp_path / "src", per_class=3, size=32)
    data = _regroup(src, tmp_path / "c", {"RG": "poag", "NRG": "control"})
    err = cli("data", data, code=3).stderr
    assert "control" in err and "poag" in err and "--classes" in err
    info = cli.json("data", data, "--classes", "RG=poag,NRG=control")
    assert info["counts"]["train"] == {"NRG": 3, "RG": 3}
    (data / "train" / "suspect").mkdir()
    shutil.copy(next((data / "train" / "poag").iterdir()), data / "train" / "suspect" / "x.jpg")
    err = cli("data", data, "--classes", "RG=poag,NRG=control", code=3).stderr
    assert "train/suspect" in err.replace("\\", "/")


def test_flat_folder_with_airogs_style_csv(cli, tmp_path):
    src = make_sample(tmp_path / "src", per_class=3, size=32)
    flat = _flat_with_csv(src, tmp_path / "flat")
    found = resolve(DataSpec(flat, labels=flat / "labels.csv"))
    assert found.kind == "csv" and len(found.entries) == 14 and found.splits() == []
    assert found.counts() == {"all": {"NRG": 7, "RG": 7}}
    assert all(p.suffix == ".jpg" and p.is_file() for p, _, _ in found.entries)
    result = cli("data", flat, "--labels", flat / "labels.csv", "--json")
    assert json.loads(result.stdout)["total"] == 14
    assert "challenge_id" in result.stderr  # the columns used are named


def test_csv_with_split_column_trains_and_records_its_source(cli, tmp_path):
    src = make_sample(tmp_path / "src", per_class=4, size=32)
    flat = _flat_with_csv(src, tmp_path / "flat", split_column=True)
    found = resolve(DataSpec(flat / "labels.csv"))  # a CSV as --data: a manifest
    assert found.kind == "manifest" and found.counts()["validation"] == {"NRG": 2, "RG": 2}
    run = Path(cli("train", "basic-cnn", "--data", flat / "labels.csv", "--image-size", "32", "--epochs", "1",
                   "--quiet").stdout.strip())
    data = read_meta(run)["data"]
    assert data["kind"] == "manifest" and data["train"] == {"NRG": 4, "RG": 4} and data["fingerprint"]
    assert data["classes"]["mapping"] == {"NRG": "NRG", "RG": "RG"} and data["skipped"] == {}
    assert resolve(from_record(data)).fingerprint() == data["fingerprint"]  # resume/evaluate re-read it alike


def test_missing_duplicate_and_unknown_rows(cli, tmp_path):
    src = make_sample(tmp_path / "src", per_class=3, size=32)
    extra = [["TRAIN_GONE", "RG"], ["train_RG_00000", "RG"], ["train_NRG_00001", "suspect"]]
    flat = _flat_with_csv(src, tmp_path / "flat", rows_extra=extra)
    err = cli("data", flat, "--labels", flat / "labels.csv", code=3).stderr
    assert "1 image not found" in err and "TRAIN_GONE" in err and "1 duplicate" in err
    assert "1 unknown label" in err and "'suspect'" in err and "--skip-missing" in err
    with pytest.raises(InputError):
        resolve(DataSpec(flat, labels=flat / "labels.csv"))
    found = resolve(DataSpec(flat, labels=flat / "labels.csv", skip_missing=True))
    assert len(found.entries) == 14
    assert {k: v for k, v in found.skipped.items() if k != "examples"} == {"missing": 1, "duplicate": 1, "unknown_label": 1}
    assert any("TRAIN_GONE" in e for e in found.skipped["examples"])


def test_columns_found_by_name_or_given(tmp_path):
    src = make_sample(tmp_path / "src", per_class=2, size=32)
    img = tmp_path / "img"
    img.mkdir()
    rows = []
    for f in sorted((src / "train").rglob("*.jpg")):
        shutil.copy(f, img / f.name)
        rows.append(f"{f.name};{'glaucoma' if f.parent.name == 'RG' else 'healthy'};{f.stem[-1]}")
    (tmp_path / "odd.csv").write_text("Eye;Diagnosis;Patient\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError, match="no image column"):
        resolve(DataSpec(img, labels=tmp_path / "odd.csv"))
    with pytest.raises(InputError, match="no column 'nope'"):
        resolve(DataSpec(img, labels=tmp_path / "odd.csv", image_column="nope"))
    (tmp_path / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError, match="spreadsheet"):
        resolve(DataSpec(img, labels=tmp_path / "sheet.xlsx"))
    found = resolve(DataSpec(img, labels=tmp_path / "odd.csv", image_column="eye"))
    assert found.counts() == {"all": {"NRG": 2, "RG": 2}}


def test_grouped_split_keeps_each_group_on_one_side():
    labels = [i % 2 for i in range(200)]
    groups = [f"p{i // 4}" for i in range(200)]  # 4 images per patient, two of each class
    splits = assign(labels, 0.2, 0.2, seed=1, groups=groups)
    by_group: dict[str, set] = {}
    for g, s in zip(groups, splits):
        by_group.setdefault(g, set()).add(s)
    assert all(len(s) == 1 for s in by_group.values())
    assert 30 <= splits.count("test") <= 50 and 30 <= splits.count("validation") <= 50
    assert assign(labels, 0.2, 0.2, seed=1, groups=groups) == splits  # seeded
    plain = assign(labels, 0.1, 0.1, seed=0)
    assert [sum(1 for y, s in zip(labels, plain) if s == "test" and y == c) for c in (0, 1)] == [10, 10]


def test_split_command_writes_a_manifest_every_command_reads(cli, tmp_path):
    src = make_sample(tmp_path / "src", per_class=6, size=32)
    flat = _flat_with_csv(src, tmp_path / "flat")
    with open(flat / "labels.csv") as fh:
        rows = list(csv.reader(fh))
    with open(flat / "labels.csv", "w", newline="") as fh:  # a patient id: two photographs each
        csv.writer(fh).writerows([rows[0] + ["patient"]] + [r + [f"p{i // 2}"] for i, r in enumerate(rows[1:])])
    dest = tmp_path / "out" / "split.csv"
    out = cli.json("split", flat, dest, "--labels", flat / "labels.csv", "--val", "0.2", "--test", "0.2",
                   "--group-column", "patient")
    assert out["manifest"] == str(dest) and sum(sum(c.values()) for c in out["counts"].values()) == 20
    with open(dest) as fh:
        written = list(csv.DictReader(fh))
    sides: dict[str, set] = {}
    for row in written:
        sides.setdefault(row["group"], set()).add(row["split"])
        assert not Path(row["path"]).is_absolute()
    assert all(len(s) == 1 for s in sides.values())
    info = cli.json("data", dest)
    assert info["data"]["kind"] == "manifest" and set(info["counts"]) == {"train", "validation", "test"}
    cli("split", flat, dest, "--labels", flat / "labels.csv", code=3)  # never over an existing file
    assert "--group-column" in cli("split", src, tmp_path / "x.csv", "--group-column", "p", code=2).stderr


def test_verify_finds_duplicates_within_and_across_splits(cli, tmp_path):
    data = make_sample(tmp_path / "d", per_class=3, size=32)
    first = min((data / "train" / "RG").iterdir())
    shutil.copy(first, data / "test" / "RG" / "leaked.jpg")
    shutil.copy(first, data / "train" / "RG" / "again.jpg")
    from PIL import Image

    other = max((data / "train" / "NRG").iterdir())
    Image.open(other).resize((48, 48)).save(data / "train" / "NRG" / "resized.png")  # re-encoded, resized
    result = cli("data", data, "--verify", "--json", code=1)
    near = json.loads(result.stdout)["duplicates"]["near"]["within_split"]
    assert [{r["path"] for r in g} for g in near] == [{str(other), str(data / "train" / "NRG" / "resized.png")}]
    dups = json.loads(result.stdout)["duplicates"]["identical"]
    across = dups["across_splits"]
    assert len(across) == 1 and {r["split"] for r in across[0]} == {"train", "test"}
    assert str(data / "test" / "RG" / "leaked.jpg") in {r["path"] for r in across[0]}
    assert dups["within_split"] == []  # the group spans splits, so it is reported as leakage
    assert "leakage" in result.stderr


def test_external_validation_of_a_trained_run(cli, trained, tmp_path):
    ext = _regroup(trained["data"], tmp_path / "other", {"RG": "Glaucoma", "NRG": "Non-Glaucoma"}, splits=False)
    args = ("evaluate", trained["run"], "--data", ext, "--bootstrap", "0")
    result = cli(*args, "--json")
    doc = json.loads(result.stdout)
    assert doc["split"] == "all" and doc["external"] is True and doc["threshold_source"] == "validation-youden"
    assert doc["threshold"] == pytest.approx(read_meta(trained["run"])["threshold"])
    assert doc["n"] == {"NRG": 72, "RG": 72} and doc["data"]["classes"]["mapping"]["Non-Glaucoma"] == "NRG"
    assert "Glaucoma -> RG" in result.stderr
    own = json.loads(cli("evaluate", trained["run"], "--bootstrap", "0", "--json").stdout)
    assert own["external"] is False and own["split"] == "test"
    assert list((trained["run"] / "eval").glob("other-*-all/metrics.json"))  # beside, not over, eval/test
    spec = json.loads(cli(*args, "--target-specificity", "0.9", "--json").stdout)
    assert spec["threshold_source"] == "target-specificity-recomputed"
    assert spec["metrics"]["specificity"] >= 0.9
    cli("evaluate", trained["run"], "--data", ext, "--split", "test", code=3)
    both = cli.json("compare", trained["run"], trained["run"], "--data", ext, "--bootstrap", "0")
    assert [r["split"] for r in both["runs"]] == ["all", "all"] and both["runs"][0]["external"]


def test_a_download_wins_over_sample_sets_and_synthetic_is_said(cli, tmp_path):
    cli("sample", tmp_path / "data" / "tiny", "--per-class", "2", "--size", "32")
    result = cli("data", "--json")
    assert json.loads(result.stdout)["synthetic"] is True and "synthetic" in result.stderr
    real = make_sample(tmp_path / "data" / "real", per_class=2, size=32)
    from glaucli.data.layout import write_manifest

    write_manifest(real, {"kind": "kaggle", "dataset": "x/y"}, {})
    sample_manifest = tmp_path / "data" / "tiny" / "manifest.json"  # the sample set made after the download
    sample_manifest.write_text(json.dumps({**json.loads(sample_manifest.read_text()), "created_at": "2999-01-01"}))
    result = cli("data", "--json")
    assert json.loads(result.stdout)["path"] == str(real) and "synthetic" not in result.stderr


def test_synthetic_run_is_marked_in_meta_and_runs(cli, tmp_path):
    cli("sample", tmp_path / "data" / "tiny", "--per-class", "3", "--size", "32")
    run = Path(cli("train", "basic-cnn", "--image-size", "32", "--epochs", "1", "--quiet").stdout.strip())
    assert read_meta(run)["synthetic"] is True
    assert cli.json("runs")["runs"][0]["synthetic"] is True
    assert "synthetic" in cli("runs").stdout
    assert "trained on synthetic data" in cli("evaluate", run, "--bootstrap", "0").stderr
    compared = cli("compare", run, run, "--bootstrap", "0")
    assert "synthetic" in compared.stderr and f"{run.name} *" in compared.stdout


def test_folders_merged_into_one_class_are_warned(cli, tmp_path):
    data = make_sample(tmp_path / "d", per_class=3, size=32)
    (data / "train" / "nrg").mkdir()
    shutil.copy(next((data / "train" / "NRG").iterdir()), data / "train" / "nrg" / "extra.jpg")
    result = cli("data", data, "--json")
    assert json.loads(result.stdout)["counts"]["train"]["NRG"] == 4
    assert "NRG + nrg -> NRG in train" in result.stderr


def test_predict_a_labelled_collection(cli, trained, tmp_path):
    src = trained["data"]
    flat = _flat_with_csv(src, tmp_path / "flat", split_column=True)
    rows = cli.json("predict", "--model", trained["run"], "--data", flat / "labels.csv", "--split", "test")
    assert len(rows) == 12 and {r["true_label"] for r in rows} == {"NRG", "RG"}
    assert all(Path(r["image"]).parent == flat for r in rows)
    cli("predict", "--model", trained["run"], "--data", flat / "labels.csv", "eye.jpg", code=2)
