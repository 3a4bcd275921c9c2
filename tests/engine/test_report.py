"""glaucli report and compare --html: one self-contained page (sections, inline decodable images,
no URL, no script), user text escaped, a stored evaluation reused; and a real headless browser."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pytest

SECTIONS = ("overview", "metrics", "calibration", "gallery", "training")


def copy_run(trained, tmp_path, name: str) -> Path:
    """A private copy: a report writes into its run, and the session's run stays untouched."""
    run = tmp_path / "runs" / "train" / name
    shutil.copytree(trained["run"], run)
    return run


def inline_images(html: str) -> list:
    from PIL import Image

    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', html)
    images = []
    for src in sources:
        match = re.fullmatch(r"data:image/(png|jpeg);base64,([A-Za-z0-9+/=]+)", src)
        assert match, f"not an inline PNG/JPEG: {src[:80]}"
        image = Image.open(io.BytesIO(base64.b64decode(match.group(2))))
        image.load()  # decodes the whole image, not only its header
        assert image.width > 10 and image.height > 10
        images.append(image)
    return images


def test_report_is_one_self_contained_page(cli, trained, tmp_path):
    run = copy_run(trained, tmp_path, "basic")
    # An evaluation at another threshold is not what the page shows: it evaluates afresh.
    cli("evaluate", run, "--threshold", "0.3", "--bootstrap", "20")
    result = cli("report", run, "--json")
    made = json.loads(result.stdout)
    page = Path(made["report"])
    assert page == run / "report.html" and made["reused"] is False
    assert (run / "eval" / "test" / "calibration.png").is_file()
    html = page.read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in html, section
    for text in ("Research use only", "Expected calibration error", "Brier score", "False negatives",
                 "False positives", "True positives", "95 % CI", "specificity &gt;= 95%", "basic-cnn"):
        assert text in html, text
    assert not re.search(r"https?://", html), "a URL in a page that must work offline"
    assert "<script" not in html and "<link" not in html and "@import" not in html
    images = inline_images(html)
    # roc, pr, score distribution, reliability, two training curves, and a photo + overlay per card
    cards = html.count('class="card"')
    assert cards >= 4 and len(images) == 6 + 2 * cards
    # A second report reuses the stored evaluation (same split, threshold, calibration, no TTA).
    again = cli("report", run, "--output", tmp_path / "second.html")
    assert again.stdout.strip() == str(tmp_path / "second.html")
    assert "Reusing the evaluation" in again.stderr


def test_user_text_is_data_not_markup(cli, trained, tmp_path):
    name = "<script>alert(1)</script>"
    run = copy_run(trained, tmp_path, name)
    out = tmp_path / "page.html"
    cli("report", run, "--output", out, "--gallery", "1")
    html = out.read_text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_report_refuses_to_overwrite_the_model(cli, trained, tmp_path):
    run = copy_run(trained, tmp_path, "guarded")
    before = (run / "best.keras").read_bytes()
    cli("report", run, "--output", run / "best.keras", code=2)
    assert (run / "best.keras").read_bytes() == before
    cli("report", run, "--split", "holdout", code=2)
    cli("report", tmp_path / "missing", code=3)


def test_compare_html(cli, trained, tmp_path):
    a, b = copy_run(trained, tmp_path, "first"), copy_run(trained, tmp_path, "second")
    out = tmp_path / "compare.html"
    cli("compare", a, b, "--bootstrap", "50", "--html", out)
    html = out.read_text()
    assert "first" in html and "second" in html and "ECE" in html and "Brier" in html
    assert not re.search(r"https?://", html) and "<script" not in html
    assert len(inline_images(html)) == 2  # the runs' ROC curves on one plot, their reliability on another


def test_ensemble_report_shows_members_side_by_side(cli, trained, tmp_path):
    a, b = copy_run(trained, tmp_path, "left"), copy_run(trained, tmp_path, "right")
    ensemble = Path(cli("ensemble", "mean", a, b, "--runs-dir", tmp_path / "runs", "--quiet").stdout.strip())
    html = Path(cli("report", ensemble, "--gallery", "1").stdout.strip()).read_text()
    assert 'id="members"' in html and "mean(left, right)" in html
    header = re.search(r"<thead><tr><th>metric</th>(.*?)</tr></thead>", html.split('id="members"')[1]).group(1)
    assert re.findall(r"<th>(.*?)</th>", header) == ["left", "right", "ensemble"]
    assert html.count("–</td>") == 0  # every member has its own metrics
    assert len(inline_images(html)) >= 4


def test_report_opens_in_a_real_browser(cli, trained, tmp_path):
    from tests.browser import Browser, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's `chromium` where apt works)")
    run = copy_run(trained, tmp_path, "browsed")
    page = Path(cli("report", run).stdout.strip())
    from PIL import Image, ImageStat

    with Browser(binary) as browser:
        for width in (1280, 390):
            errors = browser.load(page.resolve().as_uri(), width=width)
            assert errors == [], errors
            assert browser.evaluate("document.images.length") > 6
            assert browser.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            # nothing wider than the screen but the scrollable tables
            assert browser.evaluate("document.documentElement.scrollWidth") <= width
            shot = Image.open(io.BytesIO(browser.screenshot(full_page=False))).convert("L")
            assert shot.width == width
            assert ImageStat.Stat(shot).stddev[0] > 10, "a blank screenshot"


def test_a_model_no_better_than_chance_is_named_in_the_report_and_never_best(cli, trained, tmp_path):
    """Issue 27: evaluate, report and compare printed a model at chance without comment. With
    the classes swapped its test accuracy is below always answering the majority class."""
    swapped = tmp_path / "swapped"
    for split in ("train", "validation", "test"):
        for cls, other in (("NRG", "RG"), ("RG", "NRG")):
            shutil.copytree(trained["data"] / split / cls, swapped / split / other)
    run = copy_run(trained, tmp_path, "guessing")
    result = cli("report", run, "--data", swapped, "--output", tmp_path / "r.html", "--gallery", "0")
    assert "no better than chance on the test split" in " ".join(result.stderr.split())
    assert "no better than chance</span> on this split" in (tmp_path / "r.html").read_text()
    sound = copy_run(trained, tmp_path, "sound")
    cli("compare", run, sound, "--data", swapped, "--bootstrap", "50", "--html", tmp_path / "c.html")
    html = (tmp_path / "c.html").read_text()
    assert html.count("no better than chance</span>") == 2  # both guess on the swapped labels
    assert 'class="best"' not in html
