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


def test_more_chains_than_gpus_queue_proposed_trainings_for_the_next_free_gpu():
    # 1 band, 2 GPUs, 4 trainings of 10 s; a proposal takes 1 s, a chain's end is seen 4 s later
    work = np.full((1, 2, 2), 10.0)
    oh = Overheads(detect_s=4, propose_s=1, round_s=0, queue_s=0, job_s=0)
    one = simulate("async", work, oh)  # 2 chains on 2 GPUs: a GPU idles during every proposal
    # chain 0: proposed at 1, trains 1-11, seen 15, proposed 16, trains 16-26; chain 1: 2-12, 17-27
    assert one["in_flight"] == 2 and one["wall_s"] == 27 - 1
    two = simulate("async", work, oh, gpus=2, in_flight=4)  # 4 chains of 1 trial, 2 queued
    # proposals at 1, 2, 3, 4; GPUs: 1-11 and 2-12; the queued ones start 11-21 and 12-22
    assert two["gpus"] == 2 and two["in_flight"] == 4 and two["wall_s"] == 22 - 1
    assert two["utilisation"] == pytest.approx(40 / (2 * 21))
    assert two["utilisation"] > one["utilisation"] == pytest.approx(40 / (2 * 26))
    # fewer GPUs than a sync round: the round's trainings queue for them
    sync = simulate("sync", work, NONE, gpus=1)
    assert sync["wall_s"] == 40 and sync["utilisation"] == 1.0


@pytest.mark.parametrize(("key", "value"), [("gpus", 0), ("in_flight", 1.5)])
def test_gpus_and_in_flight_are_whole_numbers(key, value):
    with pytest.raises(ValueError, match=f"{key}: {value}"):
        simulate("async", np.ones((1, 1, 1)), NONE, **{key: value})
