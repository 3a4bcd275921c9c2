"""glaucli download against a fake Kaggle on 127.0.0.1, through the real client code."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.data.fake_kaggle import Behaviour, FakeKaggle
from tests.helpers import make_sample

V1 = "deathtrooper/eyepacs-airogs-light"
V2 = "deathtrooper/glaucoma-dataset-eyepacs-airogs-light-v2"
SECRET = "s3cr3t-kaggle-key-XYZ"
TOKEN = "KGAT_tok3n_ABCDEF"


def zip_tree(tmp_path: Path, prefixes: list[str], per_class: int = 3, extra: dict | None = None) -> bytes:
    src = make_sample(tmp_path / f"src-{len(prefixes)}-{per_class}", per_class=per_class, size=32)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for prefix in prefixes:
            for file in sorted(src.rglob("*.jpg")):
                zf.write(file, f"{prefix}/{file.relative_to(src).as_posix()}")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def v1_zip(tmp_path):
    return zip_tree(tmp_path, ["release-crop/release-crop", "release-raw/release-raw"])


@pytest.fixture
def v2_zip(tmp_path):
    return zip_tree(tmp_path, ["eyepac-light-v2-512-jpg"], per_class=4)


@pytest.fixture
def kaggle(monkeypatch, v1_zip, v2_zip):
    behaviour = Behaviour(archives={V1: v1_zip, V2: v2_zip})
    with FakeKaggle(behaviour) as server:
        for var in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(var, server.proxy)
        monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
        monkeypatch.setenv("GLAUCLI_HTTP_TIMEOUT", "1")
        monkeypatch.setenv("GLAUCLI_RETRY_BACKOFF", "0.01")
        yield server


def storage_gets(server):
    return [r for r in server.b.requests if r[0] == "GET"]


def test_v2_happy_path_then_rerun_skips(cli, kaggle, tmp_path):
    result = cli("download", "--json")
    info = json.loads(result.stdout)
    target = tmp_path / "data" / "v2"
    assert info["path"] == str(target) and not info["already_complete"]
    assert info["counts"]["train"] == {"NRG": 4, "RG": 4}
    assert info["source"]["version"] == 3 and info["source"]["dataset"] == V2
    assert len(list((target / "test" / "RG").glob("*.jpg"))) == 2
    assert json.loads((target / "manifest.json").read_text())["schema"] == 1
    assert not list((tmp_path / "data" / ".downloads").glob("*.part"))
    gets = len(storage_gets(kaggle))
    again = cli.json("download")
    assert again["already_complete"] and len(storage_gets(kaggle)) == gets
    assert cli.json("data")["path"] == str(target)


def test_busy_or_rate_limited_api_is_retried_and_said(cli, kaggle, monkeypatch):
    """503 and 429 are retried (urllib3's Retry, honouring Retry-After), each retry announced;
    a server that stays busy ends in one line naming the attempts."""
    kaggle.b.busy = [503, 429]
    result = cli("download", "--json")
    assert json.loads(result.stdout)["source"]["version"] == 3
    err = " ".join(result.stderr.split())
    assert "Kaggle dataset lookup failed (HTTP 503); retrying in 0 s (attempt 2/6)" in err
    assert "Kaggle dataset lookup failed (HTTP 429); retrying in 0 s (attempt 3/6)" in err
    monkeypatch.setattr("glaucli.data.kaggle.MAX_ATTEMPTS", 2)
    kaggle.b.busy = [503] * 3
    err = " ".join(cli("download", "--force", code=1).stderr.split())
    assert "Kaggle dataset lookup failed after 2 attempts: HTTP 503" in err and "attempt 2/2" in err


def test_v1_takes_release_crop_unless_variant(cli, kaggle, tmp_path):
    cli("download", "v1", "--quiet")
    assert (tmp_path / "data" / "v1" / "train" / "NRG").is_dir()
    info = cli.json("download", "v1", "--variant", "release-raw", "--name", "raw")
    assert info["path"] == str(tmp_path / "data" / "raw")


def test_drop_mid_body_is_resumed_with_range(cli, kaggle, v2_zip):
    kaggle.b.drop_at, kaggle.b.drops = len(v2_zip) // 3, 1
    cli("download")
    ranges = [r[2] for r in storage_gets(kaggle)]
    assert ranges[-1] == f"bytes={len(v2_zip) // 3}-"


def test_stalled_body_hits_read_timeout_and_resumes(cli, kaggle, v2_zip):
    kaggle.b.stall_at, kaggle.b.stalls = len(v2_zip) // 2, 1
    info = cli.json("download")
    assert info["counts"]["validation"] == {"NRG": 2, "RG": 2}
    assert storage_gets(kaggle)[-1][2] == f"bytes={len(v2_zip) // 2}-"


def test_resume_across_two_invocations(cli, kaggle, v2_zip, monkeypatch, tmp_path):
    monkeypatch.setattr("glaucli.data.kaggle.MAX_ATTEMPTS", 1)
    kaggle.b.drop_at, kaggle.b.drops = 1000, 1
    result = cli("download", code=1)
    assert "re-run" in result.stderr
    part = tmp_path / "data" / ".downloads" / "v2-v3.zip.part"
    assert part.stat().st_size == 1000
    assert not (tmp_path / "data" / "v2").exists()
    cli("download")
    assert storage_gets(kaggle)[-1][2] == "bytes=1000-"
    assert not part.exists()


def test_expired_url_asks_for_a_fresh_one(cli, kaggle):
    kaggle.b.expire = 1
    cli("download")
    downloads = [r for r in kaggle.b.requests if r[1].endswith("/DownloadDataset")]
    assert len(downloads) == 2


def test_server_ignoring_range_restarts_cleanly(cli, kaggle, v2_zip):
    kaggle.b.drop_at, kaggle.b.drops, kaggle.b.ignore_range = 500, 1, True
    info = cli.json("download")
    assert info["source"]["archive"]["size"] == len(v2_zip)


def test_refused_credentials_exit_3_without_secret(cli, kaggle, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", SECRET)
    kaggle.b.accept = {"Bearer nothing-matches"}
    result = cli("download", code=3)
    assert "refused the credentials" in result.stderr and "KAGGLE_KEY" in result.stderr
    assert SECRET not in result.output
    monkeypatch.setenv("GLAUCLI_DEBUG", "1")
    assert SECRET not in cli("download", code=3).output


def test_token_sent_as_bearer_and_basic_auth_from_json(cli, kaggle, tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    kaggle.b.accept = {f"Bearer {TOKEN}"}
    cli("download", "--name", "tok")
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    conf = tmp_path / "home" / ".config" / "kaggle"
    conf.mkdir(parents=True)
    (conf / "kaggle.json").write_text(json.dumps({"username": "bob", "key": SECRET}))
    os.chmod(conf / "kaggle.json", 0o600)
    basic = "Basic " + base64.b64encode(f"bob:{SECRET}".encode()).decode()
    kaggle.b.accept = {basic}
    result = cli("download", "--name", "basic")
    assert SECRET not in result.output and "readable" not in result.stderr


def test_anonymous_refused_lists_places(cli, kaggle):
    kaggle.b.allow_anonymous = False
    result = cli("download", code=3)
    assert "anonymous" in result.stderr and "kaggle.json" in result.stderr


def test_unknown_dataset_404(cli, kaggle):
    assert "unknown dataset" in cli("download", "someone/nothing", code=3).stderr
    cli("download", "not-a-slug", code=2)


def test_md5_mismatch_exit_1_and_part_removed(cli, kaggle, tmp_path):
    kaggle.b.wrong_md5 = True
    assert "checksum" in cli("download", code=1).stderr
    assert not list((tmp_path / "data" / ".downloads").glob("*.part"))
    assert not (tmp_path / "data" / "v2").exists()


def _offline(monkeypatch, proxy: str) -> None:
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    monkeypatch.setenv("GLAUCLI_RETRY_BACKOFF", "0.001")


def test_refused_on_first_try_names_host_no_retry(cli, monkeypatch, tmp_path):
    _offline(monkeypatch, "http://127.0.0.1:9")
    err = " ".join(cli("download", code=1).stderr.split())
    assert "127.0.0.1:9" in err and "refused" in err
    assert "retrying in" not in err and "attempts" not in err  # nothing listens: no minute of back-off
    assert "no Kaggle credentials were found" in err and "--from-zip" in err
    assert "resume" not in err  # nothing was downloaded
    assert not (tmp_path / "data" / "v2").exists()


def test_unresolvable_host_is_named_as_dns_failure(cli, monkeypatch):
    _offline(monkeypatch, "http://no-such-proxy.invalid:3128")
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    err = " ".join(cli("download", code=1).stderr.split())
    assert "no-such-proxy.invalid" in err and "DNS" in err and "retrying in" not in err
    assert "credentials were found" not in err and "--from-zip" in err  # a token is set


def test_timeout_is_retried_then_named(cli, monkeypatch):
    import socket

    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    with silent:
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        _offline(monkeypatch, f"http://{host}")
        monkeypatch.setenv("GLAUCLI_HTTP_TIMEOUT", "0.3")
        monkeypatch.setattr("glaucli.data.kaggle.MAX_ATTEMPTS", 2)
        err = " ".join(cli("download", code=1).stderr.split())
    assert "retrying in" in err and "after 2 attempts" in err and "timed out" in err
    assert f"localhost (through proxy {host}): timed out" in err


def test_force_failing_halfway_keeps_old_tree(cli, kaggle, tmp_path, monkeypatch):
    cli("download")
    target = tmp_path / "data" / "v2"
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    monkeypatch.setattr("glaucli.data.kaggle.MAX_ATTEMPTS", 1)
    kaggle.b.drop_at, kaggle.b.drops = 700, 1
    cli("download", "--force", code=1)
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    kaggle.b.wrong_md5 = True
    cli("download", "--force", code=1)
    assert (target / "manifest.json").exists()


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt"])
def test_zip_slip_refused(cli, tmp_path, member):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zip_tree(tmp_path, ["x"], per_class=2, extra={member: b"pwned"}))
    assert "outside" in cli("download", "--from-zip", archive, code=3).stderr
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "data" / "evil").exists()


def test_symlink_member_refused(cli, tmp_path):
    archive = tmp_path / "link.zip"
    buf = io.BytesIO(zip_tree(tmp_path, ["x"], per_class=2))
    with zipfile.ZipFile(buf, "a") as zf:
        info = zipfile.ZipInfo("x/train/RG/link.jpg")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    archive.write_bytes(buf.getvalue())
    assert "symbolic link" in cli("download", "--from-zip", archive, code=3).stderr


def test_zip_bomb_refused(cli, tmp_path, monkeypatch):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for split in ("train", "validation", "test"):
            for cls in ("NRG", "RG"):
                zf.writestr(f"{split}/{cls}/zero.jpg", b"\0" * (12 << 20))
    assert "zip bomb" in cli("download", "--from-zip", archive, code=3).stderr


def test_from_zip_layouts_and_errors(cli, tmp_path):
    archive = tmp_path / "manual.zip"
    archive.write_bytes(zip_tree(tmp_path, ["eyepac-light-v2-512-jpg"]))
    info = cli.json("download", "--from-zip", archive)
    assert info["path"] == str(tmp_path / "data" / "manual") and info["source"]["kind"] == "zip"
    cli("download", "--from-zip", tmp_path / "missing.zip", code=3)
    (tmp_path / "text.zip").write_text("not a zip")
    assert "not a readable zip" in cli("download", "--from-zip", tmp_path / "text.zip", code=3).stderr
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "hi")
    assert "no dataset tree" in cli("download", "--from-zip", empty, code=3).stderr


def test_subprocess_env_only_redirect(kaggle, tmp_path):
    """The installed command reaches the fake server through the environment alone."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("no_proxy")}
    env["KAGGLE_KEY"], env["KAGGLE_USERNAME"] = SECRET, "carol"
    out = subprocess.run([sys.executable, "-m", "glaucli", "download", "v1", "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["counts"]["train"] == {"NRG": 3, "RG": 3}
    assert SECRET not in out.stdout + out.stderr
