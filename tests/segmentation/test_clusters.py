"""Member clusters. References: scikit-learn's own KMeans / AgglomerativeClustering / HDBSCAN
called directly on the same scaled matrix (the clustering core must agree with them), and planted
clusters drawn with a fixed rng (must be recovered, ARI > 0.9, with k="auto" finding the planted
k)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from memberlens.exceptions import ConfigError, DataError
from memberlens.segmentation.clusters import (
    ClusterModel,
    ClusterResult,
    cluster_members,
    cluster_shift,
    nearest_centroid,
    scale_features,
)

COLUMNS = ["frequency", "total_spend", "days_since_last"]


def planted(n_per: int = 500, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Four member types, well apart on log-spend, log-frequency and recency; each type has
    its own favourite category."""
    rng = np.random.default_rng(seed)
    kinds = [  # (frequency mean, spend median, days since last mean, category)
        (1, 80, 600, "图书"),
        (12, 3000, 20, "美妆"),
        (1, 90, 30, "食品"),
        (15, 4000, 500, "数码"),
    ]
    parts = []
    for i, (freq, spend, idle, category) in enumerate(kinds):
        parts.append(
            pd.DataFrame(
                {
                    "frequency": np.maximum(
                        0, np.round(rng.normal(freq, 0.15 * freq + 0.1, n_per))
                    ),
                    "total_spend": spend * np.exp(rng.normal(0, 0.15, n_per)),
                    "days_since_last": np.abs(rng.normal(idle, 0.08 * idle, n_per)),
                    "favourite_category": np.where(rng.random(n_per) < 0.8, category, "家居"),
                    "truth": i,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)
    frame.insert(0, "member_id", [f"M{i:05d}" for i in range(len(frame))])
    truth = frame.pop("truth").to_numpy()
    return frame.reset_index(drop=True), truth


def reference_matrix(frame: pd.DataFrame) -> np.ndarray:
    return StandardScaler().fit_transform(scale_features(frame, COLUMNS))


def test_kmeans_core_agrees_with_scikit_learn_kmeans():
    frame, _ = planted(200)
    result = cluster_members(frame, k=3, columns=COLUMNS, random_state=3)
    reference = KMeans(n_clusters=3, n_init=10, random_state=3).fit(reference_matrix(frame))
    np.testing.assert_array_equal(result.labels["cluster"].to_numpy(), reference.labels_)
    np.testing.assert_allclose(result.scaled_centers, reference.cluster_centers_, atol=1e-8)


def test_ward_core_agrees_with_scikit_learn_agglomerative():
    frame, _ = planted(150)
    result = cluster_members(frame, method="ward", k=4, columns=COLUMNS)
    reference = AgglomerativeClustering(n_clusters=4, linkage="ward").fit(reference_matrix(frame))
    np.testing.assert_array_equal(result.labels["cluster"].to_numpy(), reference.labels_)


def test_hdbscan_core_agrees_with_scikit_learn_hdbscan():
    frame, _ = planted(150)
    result = cluster_members(frame, method="hdbscan", columns=COLUMNS)
    reference = HDBSCAN(min_cluster_size=max(10, len(frame) // 100), copy=True).fit(
        reference_matrix(frame)
    )
    np.testing.assert_array_equal(result.labels["cluster"].to_numpy(), reference.labels_)


def test_nearest_centroid_is_kmeans_predict():
    frame, _ = planted(200)
    matrix = reference_matrix(frame)
    model = KMeans(n_clusters=4, n_init=3, random_state=0).fit(matrix[:300])
    np.testing.assert_array_equal(
        nearest_centroid(matrix, model.cluster_centers_), model.predict(matrix)
    )


@pytest.mark.parametrize("method", ["kmeans", "ward"])
def test_auto_k_recovers_the_planted_clusters(method):
    frame, truth = planted(500)
    result = cluster_members(frame, method=method, columns=COLUMNS, sample_size=800)
    assert result.k == 4
    assert list(result.selection["k"]) == list(range(2, 9))
    assert adjusted_rand_score(truth, result.labels["cluster"]) > 0.9
    assert result.sample_size == 800


def test_hdbscan_finds_the_planted_clusters_from_a_sample():
    frame, truth = planted(500)
    result = cluster_members(frame, method="hdbscan", columns=COLUMNS, sample_size=600)
    assert result.k == 4 and result.selection.empty
    assert adjusted_rand_score(truth, result.labels["cluster"]) > 0.9


def test_profiles_add_up_to_the_base():
    frame, _ = planted(300)
    result = cluster_members(frame, k=4, columns=COLUMNS)
    profiles = result.profiles
    assert profiles["size"].sum() == len(frame)
    assert profiles["share"].sum() == pytest.approx(1.0)
    for column in COLUMNS:
        weighted = (profiles[f"mean_{column}"] * profiles["size"]).sum() / len(frame)
        assert weighted == pytest.approx(frame[column].mean(), rel=1e-9)
        base = frame[column].mean()
        np.testing.assert_allclose(profiles[f"ratio_{column}"], profiles[f"mean_{column}"] / base)


def test_profiles_name_each_cluster_in_both_languages_and_find_its_category():
    frame, truth = planted(300)
    result = cluster_members(frame, k=4, columns=COLUMNS)
    profiles = result.profiles.set_index("cluster")
    assert profiles["name_en"].is_unique and profiles["name_zh"].is_unique
    for column in ("name_en", "name_zh", "description_en", "description_zh"):
        assert profiles[column].str.len().min() > 3
    assert profiles["name_zh"].str.contains(r"[\u4e00-\u9fff]").all()
    # the high-spend, frequent, recent type is "High-spend loyal" and favours 美妆 (80 % vs 20 %)
    labels = result.labels["cluster"].to_numpy()
    cluster = np.bincount(labels[truth == 1]).argmax()
    assert profiles.loc[cluster, "name_en"].startswith("High-spend loyal")
    assert profiles.loc[cluster, "name_zh"].startswith("高消费忠诚客户")
    assert profiles.loc[cluster, "top_categories"][0]["category"] == "美妆"
    assert profiles.loc[cluster, "top_categories"][0]["lift"] > 2.5
    named = result.labels.merge(result.profiles, on="cluster")
    assert (named["name_en_x"] == named["name_en_y"]).all()


def test_same_random_state_same_clusters_and_input_untouched():
    frame, _ = planted(300)
    before = frame.copy()
    first = cluster_members(frame, columns=COLUMNS, sample_size=500, random_state=11)
    second = cluster_members(frame, columns=COLUMNS, sample_size=500, random_state=11)
    pd.testing.assert_frame_equal(first.labels, second.labels)
    pd.testing.assert_frame_equal(first.selection, second.selection)
    pd.testing.assert_frame_equal(frame, before)
    assert isinstance(first, ClusterResult)
    assert first.to_dict()["k"] == first.k


def test_accepts_an_ibis_table():
    import ibis

    frame, truth = planted(200)
    result = cluster_members(ibis.memtable(frame), k=4, columns=COLUMNS)
    assert adjusted_rand_score(truth, result.labels["cluster"]) > 0.9


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"method": "dbscan"}, ConfigError, "method"),
        ({"method": "hdbscan", "k": 3}, ConfigError, "k:"),
        ({"k": 1}, ConfigError, "k:"),
        ({"columns": ["nope"]}, DataError, "nope"),
        ({"columns": ["favourite_category"]}, DataError, "not numeric"),
    ],
)
def test_bad_settings_are_named(kwargs, error, text):
    frame, _ = planted(20)
    with pytest.raises(error, match=text):
        cluster_members(frame, **kwargs)


def test_missing_values_are_refused_not_filled():
    frame, _ = planted(20)
    frame.loc[3, "total_spend"] = np.nan
    with pytest.raises(DataError, match="total_spend"):
        cluster_members(frame, columns=COLUMNS)


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory):
    from memberlens.pipeline.demo import run_demo

    folder = tmp_path_factory.mktemp("demo") / "shop"
    run_demo(folder, members=800, seed=2)
    return folder


def test_clusters_command_json(demo_project):
    import json

    from typer.testing import CliRunner

    import memberlens.cli.mine  # noqa: F401  registers the command
    from memberlens.cli._app import app

    out = CliRunner().invoke(
        app, ["clusters", "--project", str(demo_project), "--k", "3", "--json"]
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["k"] == 3 and len(payload["profiles"]) == 3
    members = sum(p["size"] for p in payload["profiles"])
    from memberlens.engine import connect

    con = connect(demo_project, read_only=True)
    assert members == con.table("mart_members").count().execute()
    assert all(p["name_zh"] and p["name_en"] for p in payload["profiles"])


def test_clusters_page_examples_run():
    """Every Python block of docs/clusters.md runs (docs that cannot drift)."""
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "clusters.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 2
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/clusters.md[{i}]", "exec"), namespace)


def test_one_member_with_a_huge_refund_share_does_not_own_a_cluster():
    """A UK export had one member with a 5,705 % refund share (refunds of orders bought before
    the data starts): unclipped, the ratio stretched the scale and took a cluster of its own."""
    rng = np.random.default_rng(5705)
    n = 300
    frame = pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(n)],
            "total_spend": np.r_[rng.normal(100, 10, n // 2), rng.normal(2000, 100, n // 2)],
            "frequency": np.r_[rng.poisson(1, n // 2), rng.poisson(12, n // 2)],
            "refund_share": rng.uniform(0, 0.1, n),
        }
    )
    frame.loc[7, "refund_share"] = 57.05
    sizes = cluster_members(frame, k="auto").labels["cluster"].value_counts()
    assert sizes.min() > 100  # unclipped: clusters of 150, 149 and the one member


def test_missing_clv_counts_as_no_value_with_default_columns():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "member_id": [f"m{i}" for i in range(200)],
            "total_spend": rng.gamma(2.0, 50.0, 200),
            "frequency": rng.poisson(2, 200),
            "clv": rng.gamma(2.0, 30.0, 200),
            "p_alive": np.nan,  # a degenerate fit left it empty for everyone
        }
    )
    frame.loc[3, "clv"] = np.nan  # a refunder
    before = frame.copy()
    result = cluster_members(frame, k=2)
    assert "clv" in result.columns and "p_alive" not in result.columns
    pd.testing.assert_frame_equal(frame, before)


def test_a_saved_model_assigns_the_same_clusters_without_a_fit():
    """The run keeps k, scaling and centroids (ClusterModel, as JSON) and reassigns members
    with them: on the same members the clusters, names and profiles are the fit's; the
    reference is the fit itself (nearest centroid = KMeans.predict, tested above)."""
    frame, _ = planted()
    fitted = cluster_members(frame, k="auto", columns=COLUMNS)
    assert fitted.model is not None and fitted.model.ids == tuple(range(fitted.k))
    model = ClusterModel.from_json(fitted.model.to_json())
    assert model == fitted.model
    again = cluster_members(frame, model=model)
    assert again.k == fitted.k and again.selection.empty
    pd.testing.assert_frame_equal(again.labels, fitted.labels)
    pd.testing.assert_frame_equal(again.profiles, fitted.profiles)
    assert cluster_shift(model, again.labels["cluster"].to_numpy()) == pytest.approx(0.0)


def test_cluster_shift_flags_members_moving_between_clusters():
    frame, truth = planted()
    model = cluster_members(frame, k=4, columns=COLUMNS).model
    assert model is not None
    # new members: three in four are of one kind (the planted kinds were a quarter each)
    drifted = pd.concat([frame[truth == 0]] * 3 + [frame[truth != 0]], ignore_index=True)
    labels = model.assign(drifted)
    assert cluster_shift(model, labels) > 0.2
    same = model.assign(frame)
    assert cluster_shift(model, same) < 0.01
