import numpy as np
import pandas as pd
import pytest

from gpunas.hub.select import pick_winner
from gpunas.hub.summary import pareto_front
from gpunas.search import propose as P
from gpunas.search.propose import Featurizer, SearchConfig, encode_key, propose
from gpunas.spaces.sampling import sobol_vectors


@pytest.fixture(scope="module")
def pool(tiny_space):
    return sobol_vectors(tiny_space, m=8, seed=0)


def _history(vectors, accuracies):
    keys = [encode_key(v) for v in vectors]
    acc = np.array(accuracies, dtype=float)
    return keys, acc, np.isfinite(acc)


def _run(pool, space, keys, acc, ok, round_, strategy="bo", seed=0, n=4, band=0):
    cfg = SearchConfig.from_dict({"strategy": strategy, "pool": 128})
    picks, name, _ = propose(pool, Featurizer(space), keys, acc, ok, n=n, round_=round_, band=band, cfg=cfg,
                             seed=seed)  # fmt: skip
    return picks, name


def test_initial_round_is_sobol_prefix(pool, tiny_space):
    picks, name = _run(pool, tiny_space, [], np.array([]), np.array([], dtype=bool), 0)
    assert name == "sobol" and picks == [0, 1, 2, 3]
    keys, acc, ok = _history(pool[:4], [50, 60, 55, 58])
    picks, _ = _run(pool, tiny_space, keys, acc, ok, 0)
    assert picks == [4, 5, 6, 7]  # trained ones are skipped


@pytest.mark.parametrize("strategy", ["bo", "trust_region", "random"])
def test_proposals_are_new_distinct_and_in_the_pool(pool, tiny_space, strategy):
    rng = np.random.default_rng(0)
    trained = pool[:12]
    keys, acc, ok = _history(trained, rng.uniform(40, 80, 12))
    picks, name = _run(pool, tiny_space, keys, acc, ok, 1, strategy)
    assert name == strategy and len(picks) == 4 == len(set(picks))
    assert all(0 <= p < len(pool) for p in picks)  # the pool is the in-budget band
    assert not {encode_key(pool[p]) for p in picks} & set(keys)


def test_same_history_and_seed_give_same_proposals(pool, tiny_space):
    keys, acc, ok = _history(pool[:10], np.linspace(40, 70, 10))
    a = _run(pool, tiny_space, keys, acc, ok, 2, seed=5)
    b = _run(pool, tiny_space, keys, acc, ok, 2, seed=5)
    assert a == b
    # the seed matters: random proposals of two seeds differ
    r5 = _run(pool, tiny_space, keys, acc, ok, 2, strategy="random", seed=5)
    r6 = _run(pool, tiny_space, keys, acc, ok, 2, strategy="random", seed=6)
    assert r5 == _run(pool, tiny_space, keys, acc, ok, 2, strategy="random", seed=5)
    assert r5 != r6


def test_failed_trials_are_not_told_to_the_surrogate(pool, tiny_space, monkeypatch):
    seen = []
    real_fit = P.Surrogate.fitted

    def spy(x, y, **kw):
        seen.append((x.copy(), y.copy()))
        return real_fit(x, y, **kw)

    monkeypatch.setattr(P.Surrogate, "fitted", spy)
    acc = [50, np.nan, 62, 58, np.nan, 70]
    keys, acc_arr, ok = _history(pool[:6], acc)
    picks, _ = _run(pool, tiny_space, keys, acc_arr, ok, 1, n=2)
    _, y0 = seen[0]
    assert len(y0) == 4 and np.isfinite(y0).all()
    # the failed candidates are still never proposed again
    assert not {encode_key(pool[p]) for p in picks} & set(keys)


def test_bo_prefers_the_region_that_scored_well(tiny_space):
    # accuracy rises with the resolution index: BO should propose high resolutions
    pool = sobol_vectors(tiny_space, m=9, seed=1)
    res = tiny_space.field_index("resolution")
    trained = pool[:24]
    acc = 50 + 15 * trained[:, res] + np.random.default_rng(0).normal(0, 0.5, 24)
    keys, acc_arr, ok = _history(trained, acc)
    picks, _ = _run(pool, tiny_space, keys, acc_arr, ok, 1, n=4)
    assert np.mean(pool[picks, res]) > 1.5


def test_bad_search_config():
    with pytest.raises(ValueError, match="search.strategy: 'grid' is not one of"):
        SearchConfig.from_dict({"strategy": "grid"})
    with pytest.raises(ValueError, match="search.acquisition: 'UCB'"):
        SearchConfig.from_dict({"acquisition": "UCB"})


def _hist(rows):
    cols = ["status", "accuracy", "predicted_ms", "round", "slot"]
    return pd.DataFrame(rows, columns=cols)


def test_hub_picks_most_accurate_successful_in_budget():
    h = _hist([
        ("complete", 70.0, 0.45, 0, 0),
        ("failed", np.nan, 0.40, 0, 1),
        ("complete", 80.0, 0.55, 0, 2),  # above the budget
        ("complete", 75.0, 0.49, 1, 0),
        ("complete", 75.0, 0.42, 1, 1),  # same accuracy, faster: wins
    ])  # fmt: skip
    best = pick_winner(h, 0.3, 0.5)
    assert (best["accuracy"], best["predicted_ms"]) == (75.0, 0.42)
    assert pick_winner(_hist([("failed", np.nan, 0.4, 0, 0)]), 0.3, 0.5) is None


def test_pareto_front():
    h = _hist([
        ("complete", 60.0, 0.1, 0, 0),
        ("complete", 55.0, 0.2, 0, 1),  # dominated
        ("complete", 70.0, 0.3, 0, 2),
        ("failed", np.nan, 0.05, 0, 3),
    ])  # fmt: skip
    assert pareto_front(h)["accuracy"].tolist() == [60.0, 70.0]


# --- the model: features, seeds, the GP (issue #14) ---------------------------------------------


def test_numeric_table_choices_stay_ordinal_and_names_are_one_hot():
    from gpunas.spaces.table import TableSpace

    space = TableSpace({
        "name": "widths", "string": "{width}-{op}",
        "fields": [{"name": "width", "choices": [8, 16, 24, 32, 40, 48, 56, 64]},
                   {"name": "op", "choices": ["conv", "pool", "skip"]}],
    })  # fmt: skip
    assert space.fields[0].numeric and not space.fields[1].numeric
    assert space.from_string("16-pool") == [1, 1] and space.describe([7, 2]) == "64-skip"
    f = Featurizer(space)
    x = f.transform(np.array([[0, 0], [1, 0], [7, 0], [0, 1], [0, 2]]))
    assert f.width == 1 + 3  # one ordinal column for the widths, one-hot for the operations
    # 8 -> 16 channels is a small step, 8 -> 64 the largest; operations are all equally far apart
    assert np.abs(x[0] - x[1]).sum() < np.abs(x[0] - x[2]).sum()
    assert np.abs(x[0] - x[3]).sum() == np.abs(x[0] - x[4]).sum() == np.abs(x[3] - x[4]).sum()


def test_cells_with_the_same_operations_elsewhere_are_near(tiny_space):
    from gpunas.spaces import load_space

    space = load_space("nasbench201")  # 6 edges, one list of 5 operations
    f = Featurizer(space)
    assert f.width == 6 * 5 + 5  # one-hot edges + the cell's operation counts
    ops = space.fields[0].choices
    conv, skip, pool = (ops.index(o) for o in ("nor_conv_3x3", "skip_connect", "avg_pool_3x3"))
    cell = np.array([conv, skip, skip, skip, skip, skip])
    moved = np.array([skip, skip, skip, conv, skip, skip])  # the conv on another edge: 2 edges differ
    other = np.array([pool, skip, skip, conv, skip, skip])  # 2 edges differ, and a pool for a skip
    x = f.transform(np.stack([cell, moved, other]))
    assert (x[0, 30:] / P.COUNT_WEIGHT).tolist() == [0, 5, 0, 1, 0]  # none, skip, conv1x1, conv3x3, pool
    # both differ from the cell in two edges; the one with the same operations is nearer
    assert np.abs(x[0] - x[1]).sum() < np.abs(x[0] - x[2]).sum()
    assert P.shared_name_lists(space) == [list(range(6))]
    # a space without one-hot fields sharing a list of names (the CNN spaces) gets no count columns
    assert P.shared_name_lists(tiny_space) == []


def test_a_vanished_stage_is_marked_absent_not_smallest(tiny_space):
    groups = tiny_space.vanishing_groups()
    assert groups, "the tiny space has a stage that can vanish"
    name, idx = groups[0]
    layers = tiny_space.field_index(f"{name}.layers")
    zero = tiny_space.fields[layers].choices.index(0)
    present = sobol_vectors(tiny_space, m=6, seed=0)
    present = present[present[:, layers] != zero][:1].copy()
    present[:, idx] = 0  # the stage is there with its smallest choices
    gone = present.copy()
    gone[:, layers] = zero  # the same vector with the stage vanished
    f = Featurizer(tiny_space)
    xp, xg = f.transform(present)[0], f.transform(gone)[0]
    assert xp[-len(groups)] == 1.0 and xg[-len(groups)] == 0.0  # the explicit presence feature
    ordinal = [j for j in idx if not P.categorical_fields(tiny_space)[j]]
    cols = np.cumsum(np.where(P.categorical_fields(tiny_space), tiny_space.sizes, 1)) - 1
    assert all(xg[cols[j]] == 0.5 and xp[cols[j]] == 0.0 for j in ordinal)


def test_no_two_seed_band_round_tuples_share_a_random_stream():
    # seed + 7919 * band made (7919, s0) and (0, s1) one stream; SeedSequence keeps them apart
    tuples = [(seed, band, r) for seed in (0, 1, 2, 7919, 15838) for band in range(4) for r in range(3)]
    draws = {}
    for t in tuples:
        rng, gp_seed = P.round_streams(*t)
        draws[t] = (tuple(rng.integers(0, 2**62, 4)), gp_seed)
    assert len({d[0] for d in draws.values()}) == len(tuples)
    assert len({d[1] for d in draws.values()}) == len(tuples)
    assert draws[(7919, 0, 0)] != draws[(0, 1, 0)]
    with pytest.raises(ValueError, match="must be >= 0"):
        P.round_streams(-1, 0, 0)


def test_gp_length_scales_grow_with_the_data_and_fits_raise_no_warnings():
    import warnings

    rng = np.random.default_rng(0)
    x = rng.random((60, 6))
    y = -(50 + 20 * x[:, 0] + rng.normal(0, 0.3, 60))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning (divide by zero, convergence) fails the test
        few = P.Surrogate.fitted(x[:4], y[:4], seed=0, restarts=1)
        many = P.Surrogate.fitted(x, y, seed=0, restarts=1)
        lied = many.condition(np.vstack([x, x[:3]]), np.append(y, [y.min()] * 3))
        many.acquisition(x, float(y.min()), "EI", 0.01, 1.96)
        lied.acquisition(x, float(y.min()), "LCB", 0.01, 1.96)
    assert not few.fit.ard and len(few.fit.length_scales) == 1  # 4 points: one length scale
    assert many.fit.ard and len(many.fit.length_scales) == 6  # 10 points per feature: ARD
    # the relevant feature gets the shortest length scale
    assert int(np.argmin(many.fit.length_scales)) == 0
    # liar steps keep the real observations' normalisation
    assert (lied.mean, lied.scale) == (many.mean, many.scale) == (float(y.mean()), float(y.std()))


def test_the_shared_surrogate_learns_from_every_band(tiny_space):
    vectors = sobol_vectors(tiny_space, m=8, seed=0)
    res = tiny_space.field_index("resolution")
    acc = 50 + 15 * vectors[:, res].astype(float)
    rows = [{"subspace": f"s{i % 2}", "encoding": encode_key(v), "accuracy": a, "status": "complete"}
            for i, (v, a) in enumerate(zip(vectors[:24], acc[:24], strict=True))]  # fmt: skip
    hist = pd.DataFrame(rows)
    members = np.arange(24, 256, 2)  # band s0's untrained members
    seen = {}
    for surrogate in ("shared", "band"):
        cfg = SearchConfig.from_dict({"strategy": "bo", "surrogate": surrogate, "pool": 128})
        picks, name, info = P.propose_for_band(tiny_space, vectors, members, hist, "s0", round_=1, batch=3,
                                               cfg=cfg, seed=0)  # fmt: skip
        assert name == "bo" and set(picks) <= set(members)  # proposals stay inside the band
        seen[surrogate] = info["trials_seen"]
    assert seen == {"shared": 24, "band": 12}


def test_scikit_learn_pin_excludes_untested_major_versions():
    # scikit-optimize branches on scikit-learn's major version (0 or 1): a 2.x would break it
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parents[2]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if Requirement(d).name == "scikit-learn"]
    tested = "1.9.1"  # envs/search.yaml pins this version; CI runs it
    assert req.specifier.contains(tested)
    assert not req.specifier.contains("2.0.0"), (
        f"{req}: allows scikit-learn 2, which scikit-optimize 0.10 does not know"
    )
    assert f"scikit-learn=={tested}" in (root / "envs" / "search.yaml").read_text()


def test_random_search_baseline_is_the_hypergeometric_distribution_of_the_best():
    from gpunas.search.baseline import random_search_best_cdf, random_search_best_quantile

    levels, cdf = random_search_best_cdf(np.array([4.0, 1.0, 3.0, 2.0]), 2)  # C(k, 2) / C(4, 2)
    assert levels.tolist() == [1, 2, 3, 4] and np.allclose(cdf, [0, 1 / 6, 3 / 6, 1])
    assert random_search_best_quantile(np.array([1.0, 2, 3, 4]), 2) == 3  # P(best <= 3) = 0.5
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(80, 5, 300), 1)
    values[:5] = np.nan  # failed trials: drawn, never the best
    sims = np.array([np.nanmax(np.r_[rng.choice(values, 20, replace=False), -np.inf]) for _ in range(4000)])
    levels, cdf = random_search_best_cdf(values, 20)
    assert np.abs(np.array([(sims <= v).mean() for v in levels]) - cdf).max() < 0.03
    median = random_search_best_quantile(values, 20)  # the first level whose cdf reaches 0.5
    k = int(np.flatnonzero(levels == median)[0])
    assert cdf[k] >= 0.5 > cdf[k - 1]
    sampled = np.flatnonzero(levels == np.quantile(sims, 0.5, method="inverted_cdf"))[0]
    assert abs(sampled - k) <= 1  # 4,000 simulated searches agree to one level
    for bad in ({"n": 0}, {"n": 301}, {"n": 5, "q": 1.0}):
        with pytest.raises(ValueError):
            random_search_best_quantile(values, **bad)


def test_the_trust_region_proposes_only_inside_its_region(tiny_space):
    """Field report: replacing the body of propose_trust_region by random search left every test
    green. The region, as documented: the trust_fraction of the untrained pool nearest (L1 over
    the features) to the trust_centers best trials, at least 4 n members; every pick lies in it."""
    pool = sobol_vectors(tiny_space, m=9, seed=1)
    res = tiny_space.field_index("resolution")
    trained = pool[:24]
    acc = 50 + 15 * trained[:, res] + np.random.default_rng(0).normal(0, 0.5, 24)
    keys, acc_arr, ok = _history(trained, acc)
    cfg = SearchConfig.from_dict({"strategy": "trust_region", "pool": 128})
    feats = Featurizer(tiny_space)
    picks, name, info = propose(pool, feats, keys, acc_arr, ok, n=4, round_=1, band=0, cfg=cfg, seed=0)
    available = np.arange(24, len(pool))
    centers = feats.transform(trained[np.argsort(-acc_arr, kind="stable")[: cfg.trust_centers]])
    dist = np.abs(feats.transform(pool[available])[:, None, :] - centers[None]).sum(axis=2).min(axis=1)
    keep = max(4 * 4, int(np.ceil(cfg.trust_fraction * len(available))))
    region = set(available[np.argsort(dist, kind="stable")[:keep]].tolist())
    assert name == "trust_region" and info["trust_region"] == keep and keep < len(available) / 10
    assert len(picks) == 4 and set(picks) <= region, sorted(set(picks) - region)


@pytest.mark.parametrize("strategy", ["bo", "trust_region"])
def test_a_strategy_that_fell_back_to_random_is_recorded_as_random(pool, tiny_space, strategy):
    """Field report: with too few successful trials BO proposes at random, but the proposals (and
    the history's proposer column) carried the configured strategy's name."""
    keys, acc, ok = _history(pool[:4], [50, np.nan, np.nan, 55])  # 2 successes < 3
    cfg = SearchConfig.from_dict({"strategy": strategy})
    picks, name, info = propose(
        pool, Featurizer(tiny_space), keys, acc, ok, n=3, round_=1, band=0, cfg=cfg, seed=0
    )
    assert name == "random" and info["fallback"] == "random (too few trials)" and len(picks) == 3
    keys, acc, ok = _history(pool[:4], [50, 52, 51, 55])
    assert (
        propose(pool, Featurizer(tiny_space), keys, acc, ok, n=3, round_=1, band=0, cfg=cfg, seed=0)[1]
        == strategy
    )


def test_rows_in_matches_the_encoded_keys_exactly():
    from gpunas.search.propose import rows_in

    rng = np.random.default_rng(3)
    vectors = rng.integers(0, 4, size=(5000, 12))
    keys = [encode_key(vectors[i]) for i in rng.choice(5000, 300, replace=False)]
    keys += ["1,2,3", "7," * 11 + "7"]  # another length; absent values
    reference = np.array([encode_key(v) in set(keys) for v in vectors])
    assert (P.rows_in(vectors, keys) == reference).all() and reference.sum() >= 300
    assert not rows_in(vectors, []).any() and rows_in(vectors[:0], keys).shape == (0,)


def test_fast_posterior_equals_scikit_optimizes():
    from gpunas.search.surrogate import Surrogate, _Posterior

    rng = np.random.default_rng(0)
    x = rng.random((150, 8))
    y = np.sin(3 * x[:, 0]) + x[:, 1] + 0.01 * rng.normal(size=150)  # a smooth target, little noise
    s = Surrogate.fitted(x, y, seed=0, restarts=0, ard_points_per_dim=2, max_fit_points=100)
    q = np.vstack([x + 0.02 * rng.normal(size=x.shape), rng.random((100, 8))])  # near the data, and far
    mean, std = s.gp.predict(q, return_std=True)
    prior = np.sqrt(s.gp.kernel_.diag(q)) * s.gp.y_train_std_
    assert std.max() < 0.5 * prior.min()  # the data lowers the variance: the term under test matters
    fast_mean, fast_std = _Posterior(s.gp).predict(q, return_std=True)
    np.testing.assert_allclose(fast_mean, mean, rtol=1e-10, atol=1e-12)
    # the variance is a difference of two numbers near the prior's: both formulas round there
    np.testing.assert_allclose(fast_std**2, std**2, rtol=0, atol=1e-9 * prior.max() ** 2)


def test_an_earlier_fits_hyperparameters_condition_a_gp_without_refitting():
    from gpunas.search.surrogate import Surrogate

    rng = np.random.default_rng(1)
    x = rng.random((120, 6))
    y = np.sin(3 * x[:, 0]) + x[:, 1] + 0.01 * rng.normal(size=120)
    fitted = Surrogate.fitted(x[:100], y[:100], seed=0, restarts=0, ard_points_per_dim=2)
    record = fitted.fit.as_dict()
    assert record["refit"] and len(record["theta"]) == 6 + 2  # 6 length scales, amplitude, noise
    reused = Surrogate.with_hyperparameters(x, y, record)  # 20 more trials, the same kernel
    assert not reused.fit.refit and reused.fit.as_dict()["theta"] == record["theta"]
    np.testing.assert_allclose(reused.gp.kernel_.theta, fitted.gp.kernel_.theta)
    # the same as conditioning the fitted GP on the 120 trials with their own normalisation
    ref = Surrogate(fitted.gp, float(y.mean()), float(y.std()), fitted.fit).condition(x, y)
    q = rng.random((50, 6))
    for a, b in zip(reused.predict(q), ref.predict(q), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    # an earlier kernel that does not fit these features is not used
    assert Surrogate.with_hyperparameters(x[:, :5], y, record) is None
    assert Surrogate.with_hyperparameters(x, y, record | {"theta": record["theta"][:3]}) is None
    assert Surrogate.with_hyperparameters(x, y, record | {"theta": []}) is None
