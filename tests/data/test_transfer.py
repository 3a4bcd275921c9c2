"""data/transfer.py on its own: a resumable download from a local HTTP server (no Kaggle)."""

from __future__ import annotations

import hashlib
import os

import pytest

from glaucli.data import transfer
from glaucli.errors import WorkError
from glaucli.events import Progress, Warned
from tests.data.fake_kaggle import Behaviour, FakeKaggle

BODY = os.urandom(300_000)


@pytest.fixture
def storage(monkeypatch):
    with FakeKaggle(Behaviour(archives={"o/s": BODY})) as server:
        for var in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(var, server.proxy)
        monkeypatch.setenv("GLAUCLI_HTTP_TIMEOUT", "1")
        monkeypatch.setenv("GLAUCLI_RETRY_BACKOFF", "0.01")
        yield server


def test_a_dropped_connection_resumes_with_a_range_and_the_md5_checks(storage, tmp_path):
    storage.b.drop_at, storage.b.drops = 100_000, 1
    urls, seen = [], []

    def new_url():
        urls.append(f"http://storage.fake/archive/o/s?sig={len(urls)}")
        return urls[-1]

    part = tmp_path / "a.zip.part"
    got = transfer.fetch(new_url, part, on_event=seen.append)
    assert got == {"size": len(BODY), "md5": hashlib.md5(BODY).hexdigest()}
    assert part.read_bytes() == BODY and len(urls) == 1
    ranges = [r[2] for r in storage.b.requests if r[0] == "GET" and r[2]]
    assert ranges == ["bytes=100000-"]
    warnings = [e.text for e in seen if isinstance(e, Warned)]
    assert len(warnings) == 1 and "retrying" in warnings[0]
    progress = [e for e in seen if isinstance(e, Progress)]
    assert {e.task for e in progress} == {"download"} and progress[-1] == Progress("download", len(BODY), len(BODY), "bytes")


def test_an_expired_url_is_renewed(storage, tmp_path):
    storage.b.expire = 1
    urls = []

    def new_url():
        urls.append(f"http://storage.fake/archive/o/s?sig={len(urls)}")
        return urls[-1]

    transfer.fetch(new_url, tmp_path / "b.part")
    assert len(urls) == 2


def test_a_wrong_md5_removes_the_part(storage, tmp_path):
    storage.b.wrong_md5 = True
    part = tmp_path / "c.part"
    with pytest.raises(WorkError, match="checksum mismatch"):
        transfer.fetch(lambda: "http://storage.fake/archive/o/s", part, hint=lambda kept: f"kept {kept}")
    assert not part.exists()
