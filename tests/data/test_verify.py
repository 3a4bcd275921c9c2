"""data/verify.py: the survey behind `glaucli data [--verify]`, without the CLI."""

from __future__ import annotations

import shutil

from glaucli.data.layout import Dataset
from tests.helpers import make_sample


def test_survey_sizes_unreadable_and_leaks(tmp_path):
    from glaucli.data.verify import survey

    data = make_sample(tmp_path / "d", per_class=2, size=32)
    shutil.copy(min((data / "train" / "RG").iterdir()), data / "test" / "RG" / "leaked.jpg")
    (data / "test" / "NRG" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    entries = [(path, label, split) for split in ("train", "validation", "test")
               for path, label in Dataset(data).files(split)]
    seen = []
    found = survey(entries, decode=True, on_event=seen.append)
    assert [e.done for e in seen] == list(range(1, len(entries) + 1))  # per image, the unreadable one too
    assert {(e.task, e.total, e.unit) for e in seen} == {("survey", len(entries), "images")}
    assert [bad["path"] for bad in found.unreadable] == [str(data / "test" / "NRG" / "broken.jpg")]
    assert found.size_summary() == {"most_common": [32, 32], "min": [32, 32], "max": [32, 32], "distinct": 1}
    assert len(found.leaks) == 1 and {r["split"] for r in found.leaks[0]} == {"train", "test"}
    headers = survey(entries)  # without decoding: sizes from the headers, no duplicate search
    assert headers.duplicates is None and headers.leaks == [] and sum(headers.sizes.values()) == len(entries) - 1
