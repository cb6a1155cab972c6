"""Both languages: every message translated, segment names from memberlens.segmentation."""

from __future__ import annotations

from memberlens.web.i18n import SEGMENTS, catalogue, missing_keys, segment_name, text


def test_every_message_has_both_languages():
    assert missing_keys() == []
    assert set(catalogue("zh-CN")) == set(catalogue("en"))


def test_segment_names_follow_the_segmentation_schemes():
    # reference: the scheme tables of memberlens.segmentation.schemes (CN8 and RFM11)
    from memberlens.segmentation.schemes import CN8, RFM11

    for seg in CN8.segments + RFM11.segments:
        assert segment_name(seg.zh, "en") == seg.en
        assert segment_name(seg.en, "zh-CN") == seg.zh
        assert segment_name(seg.key, "zh-CN") == seg.zh
    assert segment_name("not a segment", "en") == "not a segment"
    assert len(SEGMENTS) >= 3 * 19


def test_pages_render_in_the_chosen_language(clients):
    zh = clients["viewer"].get("/", params={"lang": "zh-CN"}).text
    assert "经营概览" in zh and 'lang="zh-CN"' in zh
    en = clients["viewer"].get("/", params={"lang": "en"}).text
    assert ">Overview<" in en and 'lang="en"' in en
    assert text("members.total", "en", n=3) == "3 members"
    clients["viewer"].get("/", params={"lang": "zh-CN"})  # leave the cookie as it was


def test_every_label_the_pages_use_is_translated():
    """Keys used literally by the templates (t('...')) and the page script (t("..."),
    tf("...") and table columns without their own label, shown as t("col." + key))."""
    import re
    from pathlib import Path

    import memberlens.web as web

    root = Path(web.__file__).parent
    keys = set()
    for template in (root / "templates").glob("*.html"):
        keys |= set(re.findall(r"""\bt\(\s*'([a-z_.0-9]+)'\s*\)""", template.read_text()))
    script = (root / "static" / "app.js").read_text()
    keys |= set(re.findall(r"""\bt[f]?\(\s*"([a-z_]+\.[a-z_.0-9]+)"\s*[,)]""", script))
    for column in re.findall(r"""\{ key: "([A-Za-z_0-9]+)"(?:, fmt: "[a-z]+")? \}""", script):
        keys.add(f"col.{column}")
    assert len(keys) > 150
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert sorted(k for k in keys if k not in zh or k not in en) == []
