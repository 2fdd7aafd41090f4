"""gpunas.search.simulation: the sync and async DAG policies on a simulated clock."""

import numpy as np
import pytest

from gpunas.search.simulation import Overheads, simulate

NONE = Overheads(detect_s=0, propose_s=0, round_s=0, queue_s=0, job_s=0)


def test_sync_rounds_wait_for_their_slowest_training_async_chains_do_not():
    # 2 bands x 2 slots x 3 trainings; band 1 trains 3x longer than band 0
    work = np.stack([np.full((2, 3), 10.0), np.full((2, 3), 30.0)])
    sync, asyn = simulate("sync", work, NONE), simulate("async", work, NONE)
    assert sync["gpus"] == asyn["gpus"] == 4 and sync["trainings"] == asyn["trainings"] == 12
    assert sync["wall_s"] == 90.0  # 3 rounds x the slowest (30 s)
    assert sync["utilisation"] == pytest.approx((6 * 10 + 6 * 30) / (4 * 90))  # mean / max = 2/3
    # async: the chains are shared, the slow band's trainings start first, no round waits;
    # 240 s of work on 4 GPUs: 60 s at best, 70 s here (the last 30-s training starts at 40 s)
    assert asyn["wall_s"] == 70.0 and asyn["busy_gpu_s"] == sync["busy_gpu_s"]
    assert asyn["utilisation"] == pytest.approx(240 / (4 * 70))
    same = simulate("async", work[:, :, [0, 0, 0]] * [[[1]], [[1 / 3]]], NONE)
    assert same["utilisation"] == 1.0  # equal work everywhere, no overheads: never idle


def test_overheads_are_charged_where_the_workflow_pays_them():
    work = np.full((1, 2, 2), 10.0)
    oh = Overheads(detect_s=1, propose_s=0.5, round_s=4, queue_s=2, job_s=3)
    sync = simulate("sync", work, oh)
    # round 0: start at 2, end 2 + 3 + 10 = 15; round 1 submitted at 19, starts 21, ends 34
    assert sync["wall_s"] == 34 - 2 and sync["busy_gpu_s"] == 4 * 13
    asyn = simulate("async", work, oh)
    # first proposals queue on the lock: chain 0 at 0.5, chain 1 at 1.0 (+ 2 s queue)
    # chain 0: start 2.5, end 15.5; next ready 16.5, proposed 17.0, start 19.0, end 32.0
    # chain 1: start 3.0, end 16.0; next ready 17.0, proposed 17.5, start 19.5, end 32.5
    assert asyn["wall_s"] == pytest.approx(32.5 - 2.5)
    assert asyn["proposer_busy"] == pytest.approx(4 * 0.5 / 30)


def test_one_proposer_bounds_a_large_async_cluster():
    # 1 band, 100 chains of 1-second trainings, 0.1 s per proposal: at most 10 trainings at once
    work = np.ones((1, 100, 5))
    out = simulate("async", work, Overheads(detect_s=0, propose_s=0.1, round_s=0, queue_s=0, job_s=0))
    assert out["utilisation"] < 0.15 and out["proposer_busy"] > 0.9


@pytest.mark.parametrize(
    ("mode", "work", "match"),
    [
        ("batch", np.ones((1, 1, 1)), "mode 'batch'"),
        ("sync", np.ones((2, 2)), r"shape \(2, 2\)"),
        ("async", -np.ones((1, 1, 1)), ">= 0"),
    ],
)
def test_bad_input_is_one_clear_error(mode, work, match):
    with pytest.raises(ValueError, match=match):
        simulate(mode, work, NONE)


def test_negative_overhead_is_refused():
    with pytest.raises(ValueError, match="Overheads.queue_s: -1"):
        Overheads(detect_s=0, propose_s=0, round_s=0, queue_s=-1, job_s=0)
