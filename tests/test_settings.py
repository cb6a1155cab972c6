"""Settings of memberlens.toml are checked when the project loads (memberlens.settings)."""

from __future__ import annotations

import pytest

from memberlens.exceptions import ConfigError
from memberlens.project import Project, init_project


@pytest.fixture
def shop(tmp_path):
    return init_project(tmp_path / "shop")


def with_settings(project, text: str) -> None:
    project.file.write_text(project.file.read_text(encoding="utf-8") + "\n" + text, "utf-8")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[churn]\ntrain_in_run = "sometimes"',
            '[churn] train_in_run = "sometimes": must be one of "auto", true, false',
        ),
        (
            '[run]\nskip = ["recomendations"]',
            "[run] skip = ['recomendations']: \"recomendations\" is not one of summary, clv",
        ),
        ("[churn]\ntrain_sampel = 1000", "[churn] train_sampel = 1000: unknown setting"),
        ("[churn]\ntrain_sample = 0", "train_sample = 0: must be a whole number of at least 1"),
        ("[churn]\ntrain_sample = true", "train_sample = true: must be a whole number"),
        ('[baskets]\nlevel = "brand"', 'level = "brand": must be one of "product", "category"'),
        ("[baskets]\nmin_confidence = 1.5", "min_confidence = 1.5: must be a number of at most 1"),
        ('[recommend]\nkind = "als2"', 'kind = "als2": must be one of "als", "item_knn"'),
        ('[lifecycle]\nnew_days = "30"', 'new_days = "30": must be a whole number'),
        ("[tiers]\nhigh_quantil = 0.9", "[tiers] high_quantil = 0.9: unknown setting"),
        ("[baskts]\nlevel = 'product'", "[baskts] is not a section of memberlens.toml"),
        ("[segments]\nvip = 3", "[segments] vip = 3: each entry must be a table [segments.vip]"),
    ],
)
def test_bad_settings_are_errors_when_the_project_loads(shop, toml, expected):
    with_settings(shop, toml)
    with pytest.raises(ConfigError) as err:
        Project.load(shop.root)
    message = str(err.value)
    assert expected in message
    assert str(shop.file) in message  # the file is named


@pytest.mark.parametrize(
    ("toml", "fix"),
    [
        ('[run]\nskip = ["recomendations"]', "did you mean 'recommendations'?"),
        ("[churn]\ntrain_sampel = 1000", "did you mean 'train_sample'?"),
        ("[baskts]\nlevel = 'product'", "did you mean [baskets]?"),
        ("[lifecycle]\nactive_day = 60", "did you mean 'active_days'?"),
    ],
)
def test_misspelt_names_get_the_nearest_valid_name(shop, toml, fix):
    with_settings(shop, toml)
    with pytest.raises(ConfigError, match=fix.replace("?", r"\?").replace("[", r"\[")):
        Project.load(shop.root)


def test_good_settings_load(shop):
    with_settings(
        shop,
        '[run]\nskip = ["recommendations", "forecast"]\n'
        "[churn]\ntrain_in_run = false\ntrain_sample = 5000\n"
        '[baskets]\nlevel = "category"\nmin_support = 0.01\nmin_confidence = 1\nmax_len = 2\n'
        'exclude_products = ["POST"]\n'
        '[recommend]\nk = 5\nkind = "popular"\n'
        "[tiers]\nweights = { spend = 1.0 }\nhigh_quantile = 0.9\n"
        "[web]\ndatabase_url = 'sqlite:///x.db'\n"
        "[segments.vip]\nkind = 'score_ranges'\n",
    )
    project = Project.load(shop.root)
    assert project.settings["churn"] == {"train_in_run": False, "train_sample": 5000}
    assert project.settings["run"]["skip"] == ["recommendations", "forecast"]


def test_the_declarations_match_the_code_they_describe():
    # the settings module is core and cannot import the registry or the recommender: a test
    # keeps its copies equal to theirs
    from memberlens.pipeline.registry import STEPS
    from memberlens.recommend.model import KINDS
    from memberlens.settings import PIPELINE_STEPS, RECOMMEND_KINDS, SECTIONS

    assert tuple(s.name for s in STEPS) == PIPELINE_STEPS
    assert RECOMMEND_KINDS == KINDS
    from memberlens.forecast.festivals import FESTIVALS
    from memberlens.settings import FESTIVAL_NAMES

    assert tuple(f.name for f in FESTIVALS) == FESTIVAL_NAMES
    assert {s.section for s in STEPS if s.section} <= set(SECTIONS)


def test_forecast_festivals_are_checked_when_the_project_loads(tmp_path):
    from memberlens.exceptions import ConfigError
    from memberlens.project import Project, init_project

    proj = init_project(tmp_path / "shop", locale="en")
    path = proj.root / "memberlens.toml"
    path.write_text(path.read_text() + '\n[forecast]\nfestivals = ["double11"]\n')
    assert Project.load(proj.root).settings["forecast"]["festivals"] == ["double11"]
    path.write_text(path.read_text().replace('"double11"', '"black_friday"'))
    with pytest.raises(ConfigError, match="black_friday"):
        Project.load(proj.root)
