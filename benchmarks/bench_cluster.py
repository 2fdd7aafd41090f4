"""Fill the cluster: synchronous rounds against the asynchronous search on a Slurm GPU cluster (issue 21).

Two parts, one run:

- **real**: the project's real Slurm (tests/slurm/cluster.sh) posing as one node of 48 virtual GPUs
  and 64 virtual CPUs (gres on character devices, slurmd's config_overrides). The workflow runs as
  users run it, `snakemake --profile slurm` (the shipped profile with the test cluster's SITE
  lines, tests/slurm/profile), in the gpunet preset's shape: 6 latency bands x 8 trainings in
  flight (sync: `search.batch` 8 per band; async: `search.in_flight`, `--in-flight` x 48 shared
  by the bands: more than the GPUs keeps proposed trainings waiting in Slurm's queue for the next
  free GPU), `--rounds` trainings per GPU.
  Each training is a Slurm job asking for one GPU (`train.gpu: 1`) that looks its candidate up
  in NAS-Bench-201 (`evaluator: table`, CIFAR-10 test accuracy) and lasts `--seconds-per-ms` x
  the candidate's Titan RTX batch-256 latency (a training-time model proportional to its cost;
  the bands are on the same column, 6-36 ms). Measured from `sacct`: wall (first training's start
  to last one's end), utilisation (busy GPU-seconds: each training job's elapsed time x its one
  GPU, over 48 x wall), median queue wait; the driver's CPU time (the driver and its local rules)
  and peak memory; the best accuracy per band; each job's GPU id.
- **simulated**: :mod:`gpunas.search.simulation` (the same two DAG policies on a simulated clock,
  the workflow's own band rule) with the overheads measured in the real part. At 48 GPUs it
  replays the real runs' candidates (their work seconds, in their slots), for the comparison with
  the real part; at 48, 192 and 512 GPUs (6 bands x 8 / 32 / 85) it runs the preset's 25
  trainings per GPU, candidates drawn uniformly from the bands' rows, at two time scales:
  ``bench`` (the real part's duration model and measured overheads, proposals included) and
  ``preset`` (hour-long trainings, the preset's measured proposal time, 30-s polling:
  :func:`preset_scale`), async with one chain per GPU and with ``--in-flight`` times as many;
  and, for comparison, a longest-band-first rule that is not the workflow's.

    python benchmarks/bench_cluster.py [--rounds 8] [--seconds-per-ms 6] [--in-flight 2] [--skip-real]
        [--modes async sync] [--analyse] [--keep /tmp/bench_cluster]

Needs root (cluster.sh installs and starts Slurm); stops the cluster it started. Writes
benchmarks/results/cluster_scale.json (and cluster_scale_real.json: the real runs' raw rows).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import yaml

from gpunas.config import merge_settings
from gpunas.search.simulation import Overheads, simulate

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT.parent / "shared" / "data" / "nasbench201_hw.csv"
CLUSTER_SH = ROOT / "tests" / "slurm" / "cluster.sh"
SITE = ROOT / "tests" / "slurm" / "profile" / "config.yaml"
PARTS = ["Snakefile", "rules", "workflow_scripts", "config", "profiles", "slurm", "envs", "report"]
LATENCY = "latency_ms_titan_rtx_256"
EDGES_MS = [11.0, 14.0, 18.0, 23.0, 28.0, 36.0]  # 6 bands of the batch-256 latency
PER_BAND = {48: 8, 192: 32, 512: 85}
GPUS, CPUS = 48, 64
log = logging.getLogger("bench_cluster")


def cluster(command: str, **env: str) -> None:
    proc = subprocess.run(
        ["bash", str(CLUSTER_SH), command], env=os.environ | env, capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(f"cluster.sh {command} failed:\n{proc.stderr[-2000:]}")


def prepare(work: Path, mode: str, rounds: int, seconds_per_ms: float, in_flight: int) -> None:
    """A copy of the workflow in ``work`` with the benchmark's config and the test cluster's profile."""
    for part in PARTS:
        src = ROOT / part
        if src.is_symlink():
            (work / part).symlink_to(os.readlink(src))
        else:
            (shutil.copytree if src.is_dir() else shutil.copy)(src, work / part)
    cfg = yaml.safe_load((ROOT / "config/presets/nasbench201.yaml").read_text())
    cfg["subspaces"] = {"kind": "edges_ms", "budgets": EDGES_MS}
    cfg["evaluator"] |= {"csv": str(CSV), "latency": LATENCY, "seconds_per_ms": seconds_per_ms}
    # the preset's initial design: 2 Sobol rounds of 8 per band
    cfg["search"] |= {"rounds": rounds, "batch": 8, "init_rounds": 2, "mode": mode, "in_flight": in_flight}
    cfg["train"] |= {"gpu": 1, "mem_mb": 400, "runtime": 60, "retries": 0}
    cfg["report"] = {"proxy_validity": "", "strategy_benchmark": ""}
    (work / "bench.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))  # over the default config
    target = work / "profiles" / "slurm" / "config.yaml"
    profile = merge_settings(yaml.safe_load(target.read_text()), yaml.safe_load(SITE.read_text()))
    # the shipped profile's job limit (the test profile's 4 suits a 2-CPU node), 400 MB per job
    profile = merge_settings(
        profile, {"jobs": yaml.safe_load(target.read_text())["jobs"], "default-resources": {"mem_mb": 400}}
    )
    target.write_text(yaml.safe_dump(profile, sort_keys=False))


SACCT = ["JobID", "Comment", "State", "Submit", "Start", "End", "AllocTRES", "WorkDir"]


def sacct_rows(work: Path, since: str) -> pd.DataFrame:
    out = subprocess.run(
        ["sacct", "-X", "-a", "-P", "-S", since, "-E", "now", f"--format={','.join(SACCT)}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = [dict(zip(SACCT, line.split("|"), strict=True)) for line in out.splitlines()[1:]]
    df = pd.DataFrame([r for r in rows if Path(r["WorkDir"]) == work.resolve()])
    for col in ("Submit", "Start", "End"):
        df[col] = pd.to_datetime(df[col])
    return df


def run_real(mode: str, rounds: int, seconds_per_ms: float, in_flight: int, keep: Path) -> dict[str, Any]:
    """One real run on the test cluster in ``keep/<mode>`` (kept: its files are the evidence); its
    figures and per-training rows."""
    work = keep / mode
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    prepare(work, mode, rounds, seconds_per_ms, in_flight)
    since = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    cmd = [sys.executable, "-m", "snakemake", "--profile", "slurm", "--configfile", "bench.yaml"]
    cmd += ["--config", f'search={{"mode": "{mode}"}}']  # the profile's default is async
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    log_path = work / "snakemake.log"
    with log_path.open("w") as sink:
        proc = psutil.Popen(cmd, cwd=work, stdout=sink, stderr=subprocess.STDOUT)
        peak = 0
        while proc.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.5)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    driver = {
        "since": since,
        "driver_wall_s": time.perf_counter() - t0,
        "driver_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "driver_peak_rss_mb": peak / 2**20,
    }
    (work / "driver.json").write_text(json.dumps(driver))
    if proc.returncode:
        raise SystemExit(f"{mode}: snakemake failed ({proc.returncode}):\n{log_path.read_text()[-5000:]}")
    return analyse(work, mode)


def analyse(work: Path, mode: str) -> dict[str, Any]:
    """The figures of a finished real run in ``work`` (``sacct`` and its files)."""
    driver = json.loads((work / "driver.json").read_text())
    rows = sacct_rows(work, driver.pop("since"))
    rows = rows[rows["Comment"].str.startswith("rule_train_")].copy()
    trials = trial_rows(work, mode, rows)
    res = work / "results" / "search"
    best = {}
    for band in sorted(p.name for p in res.iterdir() if p.is_dir() and p.name != "async"):
        hist = sorted(res.glob(f"{band}/history*.parquet"))
        best[band] = float(pd.read_parquet(hist[-1])["accuracy"].max())
    proposals = (
        [json.loads(p.read_text())["seconds"] for p in res.glob("async/k*/t*/proposal.json")]
        if mode == "async"
        else [float(pd.read_csv(p, sep="\t")["s"].iloc[0])
              for p in (work / "results/benchmarks/propose_candidates").rglob("*.tsv")]
    )  # fmt: skip
    span = (trials["end"].max() - trials["start"].min()).total_seconds()
    busy = float((trials["end"] - trials["start"]).dt.total_seconds().sum())
    search = yaml.safe_load((work / "bench.yaml").read_text())["search"]
    return {
        "part": "real",
        "mode": mode,
        "gpus": GPUS,
        "in_flight": search["in_flight"] if mode == "async" else len(EDGES_MS) * search["batch"],
        # async: each band's initial design goes first (choose_band's init)
        "band_init": search["init_rounds"] * search["batch"] if mode == "async" else 0,
        "trainings": len(trials),
        "wall_s": span,
        "utilisation": busy / (GPUS * span),
        "work_utilisation": float(trials["work_s"].sum()) / (GPUS * span),
        "busy_gpu_s": busy,
        "median_queue_wait_s": float(trials["queue_s"].median()),
        **driver,
        "best_accuracy": best,
        "distinct_gpu_ids": int(trials["gpu_id"].nunique()),
        "max_trainings_at_once": max_overlap(trials),
        "proposal_median_s": float(np.median(proposals)),
        "_trials": trials,
    }


def trial_rows(work: Path, mode: str, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per training: band, chain (async) or slot (sync), trial (round), order (the band's
    proposal order), submit/start/end, work seconds, GPU id."""
    out = []
    for _, r in rows.iterrows():
        parts = r["Comment"].split("_wildcards_")[1].split("_")
        if mode == "sync":  # s<band>_<round>_<slot>
            band, trial, slot = parts[0], int(parts[1]), int(parts[2])
            folder = work / f"results/search/{band}/r{trial:02d}/s{slot:02d}"
            order = trial * 8 + slot
        else:  # <chain>_<trial>; the band is the proposal's
            slot, trial = int(parts[0]), int(parts[1])
            folder = work / f"results/search/async/k{slot:03d}/t{trial:03d}"
            doc = json.loads((folder / "proposal.json").read_text())
            band, order = doc["subspace"], doc["sequence"]
        metrics = json.loads((folder / "metrics.json").read_text())
        if r["State"] != "COMPLETED" or metrics.get("status") != "complete":
            raise SystemExit(f"{folder}: job {r['JobID']} {r['State']}, {metrics.get('status')}")
        out.append({
            "band": band, "slot": slot, "trial": trial, "order": order, "job": r["JobID"],
            "submit": r["Submit"], "start": r["Start"], "end": r["End"],
            "work_s": float(metrics["simulated_s"]), "gpu_id": metrics["cuda_visible_devices"],
            "accuracy": metrics["val_top1"],
        })  # fmt: skip
    df = pd.DataFrame(out).sort_values(["band", "order"]).reset_index(drop=True)
    df["queue_s"] = (df["start"] - df["submit"]).dt.total_seconds()
    df["job_s"] = (df["end"] - df["start"]).dt.total_seconds() - df["work_s"]
    return df


def max_overlap(trials: pd.DataFrame) -> int:
    events = sorted([(t, 1) for t in trials["start"]] + [(t, -1) for t in trials["end"]])
    now = top = 0
    for _, step in events:
        now += step
        top = max(top, now)
    return top


def overheads(real: dict[str, dict], keep: Path) -> tuple[dict[str, Overheads], dict[str, Any]]:
    """The simulation's overheads from the real runs (their rows, and their files in ``keep``).

    - ``propose_s``: the mean time a proposal held the lock (its ``seconds``): the proposer's
      throughput, which the simulation queues proposals on;
    - ``detect_s``: a chain's previous end until its next submission, less the proposal job's
      wall time (start-up, lock wait, proposal: the benchmark file of `propose_async`), plus the
      job's start-up (10th percentile of its wall less its lock time): polling and scheduling;
    - ``round_s``: sync, a round's last end until the next round's first submission;
    - ``queue_s``: median over every training (submission to start); ``job_s``: per mode, the
      median of start to end less the lookup's seconds (48 jobs starting together on 2 cores, as
      each sync round does, start far slower than staggered ones)."""
    a, s = real["async"]["_trials"], real["sync"]["_trials"]
    work = keep / "async"
    held, job = {}, {}
    for path in (work / "results/search/async").glob("k*/t*/proposal.json"):
        key = (int(path.parent.parent.name[1:]), int(path.parent.name[1:]))
        held[key] = json.loads(path.read_text())["seconds"]
        tsv = work / "results/benchmarks/propose_async" / path.parent.parent.name / f"{path.parent.name}.tsv"
        if tsv.exists():
            job[key] = float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])
    startup = float(np.percentile([job[k] - held[k] for k in job], 10))
    a = a.sort_values(["slot", "trial"])
    prev = a.groupby("slot")["end"].shift(1)
    gap = (a["submit"] - prev).dt.total_seconds()
    keys = list(zip(a["slot"], a["trial"], strict=True))
    polling = [g - job[k] + startup for g, k in zip(gap, keys, strict=True) if k in job and np.isfinite(g)]
    rounds = s.groupby("trial").agg(first_submit=("submit", "min"), last_end=("end", "max"))
    between = (rounds["first_submit"].shift(-1) - rounds["last_end"]).dt.total_seconds().dropna()
    both = pd.concat([a, s])
    common = {
        "detect_s": max(float(np.median(polling)), 0.0),
        "propose_s": float(np.mean(list(held.values()))),
        "round_s": float(between.median()),
        "queue_s": float(both["queue_s"].median()),
    }
    # a job's start-up depends on how many start at once on these 2 cores: each mode its own
    oh = {m: Overheads(**common, job_s=float(t["job_s"].median())) for m, t in (("async", a), ("sync", s))}
    spread = {
        "proposal_lock_s_quartiles": [float(q) for q in np.percentile(list(held.values()), [25, 50, 75])],
        "proposal_job_s_quartiles": [float(q) for q in np.percentile(list(job.values()), [25, 50, 75])],
        "proposal_script_startup_s": startup,
        "async_gap_s_quartiles": [float(q) for q in np.percentile(gap.dropna(), [25, 50, 75])],
        "sync_round_gap_s": [float(x) for x in between],
        "job_s_quartiles": {
            m: [float(q) for q in np.percentile(t["job_s"], [25, 50, 75])]
            for m, t in (("async", a), ("sync", s))
        },
        "job_s_p10_async": float(np.percentile(a["job_s"], 10)),
        "queue_s_quartiles": [float(q) for q in np.percentile(both["queue_s"], [25, 50, 75])],
    }
    return oh, spread


def replay(trials: pd.DataFrame, mode: str, per_band: int) -> np.ndarray:
    """The real run's work seconds as (bands, per_band, trials), as :func:`simulate` reads them:
    sync ``[band, slot, round]``; async each band's in proposal order (``work[b].ravel()``)."""
    out = []
    for band in sorted(trials["band"].unique()):
        w = trials.loc[trials["band"] == band].sort_values("order")["work_s"].to_numpy()
        out.append(w.reshape(-1, per_band).T if mode == "sync" else w.reshape(per_band, -1))
    return np.stack(out)


def band_work(seconds_per_ms: float, per_band: int, trials: int, seed: int) -> np.ndarray:
    """Work seconds of candidates drawn uniformly from each band's rows (without replacement)."""
    lat = pd.read_csv(CSV, usecols=[LATENCY])[LATENCY].to_numpy()
    rng = np.random.default_rng(seed)
    lo = [0.0, *EDGES_MS[:-1]]
    out = np.empty((len(EDGES_MS), per_band, trials))
    for b, (a, z) in enumerate(zip(lo, EDGES_MS, strict=True)):
        members = lat[(lat > a) & (lat <= z)]
        out[b] = rng.choice(members, size=(per_band, trials), replace=per_band * trials > len(members))
    return out * seconds_per_ms


def preset_scale(oh: dict[str, Overheads], job_s: float) -> tuple[Overheads, float]:
    """Overheads and seconds per ms at the gpunet preset's time scale: trainings of an hour at the
    bands' median latency (an assumption: the preset's trainings are not measured), the trust
    region's asynchronous proposal at 1,200 trials with 32 in flight, the mean over a cycle of one
    hyperparameter fit and ``batch - 1`` reuses (``proposal_scale.json``'s ``cycle_mean_s``), the shipped
    profile's 30-s polling (15 s on average on top of the measured detection), a job's start-up
    ``job_s`` (measured uncontended: on a real cluster every node has its own CPUs)."""
    lat = pd.read_csv(CSV, usecols=[LATENCY])[LATENCY].to_numpy()
    median = float(np.median(lat[lat <= EDGES_MS[-1]]))
    recs = json.loads((ROOT / "benchmarks/results/proposal_scale.json").read_text())["records"]
    propose = max(
        r.get("cycle_mean_s", r["median_s"])
        for r in recs
        if r["strategy"] == "trust_region" and r["mode"] == "async"
    )
    a = oh["async"]
    return (
        Overheads(detect_s=a.detect_s + 15, propose_s=propose, round_s=a.round_s + 15,
                  queue_s=a.queue_s, job_s=job_s),
        3600.0 / median,
    )  # fmt: skip


def longest_first(budgets: np.ndarray, started: np.ndarray, costs: np.ndarray) -> int | None:
    """The band with the costliest trainings among those with trials left (pure longest-first)."""
    ok = (budgets > started) & (costs > 0)
    return int(np.argmax(np.where(ok, costs, -np.inf))) if ok.any() else None


def load_recorded(raw: Path) -> dict[str, dict]:
    """The real runs as recorded in ``raw`` (cluster_scale_real.json), their trials as a table."""
    real = {}
    for mode, rec in json.loads(raw.read_text()).items():
        trials = pd.DataFrame(rec.pop("trials"))
        for col in ("submit", "start", "end"):
            trials[col] = pd.to_datetime(trials[col])
        # runs recorded before --in-flight and the initial-design rule: 48 in flight, no rule
        real[mode] = {"in_flight": GPUS, "band_init": 0} | rec | {"_trials": trials}
    return real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8, help="trainings per slot in the real part")
    ap.add_argument("--seconds-per-ms", type=float, default=6.0, help="training-time model: seconds per ms")
    ap.add_argument("--sim-rounds", type=int, default=25, help="trainings per slot in the simulation")
    ap.add_argument(
        "--in-flight",
        type=float,
        default=2.0,
        help="async: trainings in flight per GPU (search.in_flight / GPUs)",
    )
    ap.add_argument("--skip-real", action="store_true", help="reuse cluster_scale_real.json's runs")
    ap.add_argument(
        "--keep",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench_cluster",
        help="folder of the real runs' workflow copies (kept)",
    )
    ap.add_argument("--analyse", action="store_true", help="analyse the runs in --keep again (no run)")
    ap.add_argument(
        "--modes",
        nargs="+",
        choices=["async", "sync"],
        default=["async", "sync"],
        help="real part: the modes to run (with --analyse: to analyse again); the others as recorded in "
        "cluster_scale_real.json",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cluster_scale.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    raw = args.out.with_name(f"{args.out.stem}_real.json")  # the real runs' raw rows
    # the modes not run or analysed now: as recorded beside --out, else in the main record
    recorded = raw if raw.exists() else ROOT / "benchmarks" / "results" / "cluster_scale_real.json"
    real: dict[str, dict] = {}
    if args.analyse:  # the --modes runs kept in --keep (sacct has their rows), the others as recorded
        real = {
            mode: analyse(args.keep / mode, mode) if mode in args.modes else load_recorded(recorded)[mode]
            for mode in ("async", "sync")
        }
    elif args.skip_real:
        real = load_recorded(recorded)
    else:
        cluster("stop")  # a cluster started with other GPUs or CPUs keeps them until it stops
        cluster("install")
        cluster("start", GPUNAS_SLURM_GPUS=str(GPUS), GPUNAS_SLURM_CPUS=str(CPUS))
        try:
            for mode in ("async", "sync"):
                if mode not in args.modes:  # as recorded
                    real[mode] = load_recorded(recorded)[mode]
                    continue
                log.info("real %s: %d bands x 8 slots x %d trainings", mode, len(EDGES_MS), args.rounds)
                in_flight = round(args.in_flight * GPUS) if mode == "async" else GPUS
                real[mode] = run_real(mode, args.rounds, args.seconds_per_ms, in_flight, args.keep)
                log.info("real %s: %s", mode, {k: v for k, v in real[mode].items() if not k.startswith("_")})
        finally:
            cluster("stop")
    if not args.skip_real:
        dump = {
            m: {k: v for k, v in r.items() if k != "_trials"}
            | {"trials": json.loads(r["_trials"].to_json(orient="records", date_format="iso"))}
            for m, r in real.items()
        }
        raw.write_text(json.dumps(dump, indent=1) + "\n")
    oh, spread = overheads(real, args.keep)
    records = [{k: v for k, v in r.items() if not k.startswith("_")} for r in real.values()]
    for mode in ("async", "sync"):
        flight, init = real[mode]["in_flight"], real[mode]["band_init"]
        work = replay(real[mode]["_trials"], mode, 8)
        sim = simulate(mode, work, oh[mode], gpus=GPUS, in_flight=flight, init=init)
        records.append({"part": "simulated", "replay_of_real": True} | sim)
    preset_oh, preset_spm = preset_scale(oh, spread["job_s_p10_async"])
    preset = {"async": preset_oh, "sync": preset_oh}
    # each band's initial design: the preset's (init_rounds 2 x batch 8), as the real part's config
    for scale, spm, o, init in (
        ("bench", args.seconds_per_ms, oh, 16),
        ("preset", preset_spm, preset, 16),
    ):
        for gpus, per_band in PER_BAND.items():
            work = band_work(spm, per_band, args.sim_rounds, seed=gpus)
            base = {"part": "simulated", "replay_of_real": False, "scale": scale, "cluster": gpus}
            records.append(base | simulate("sync", work, o["sync"], gpus=gpus))
            for factor in sorted({1.0, args.in_flight}):
                flight = round(factor * gpus)
                sim = simulate("async", work, o["async"], gpus=gpus, in_flight=flight, init=init)
                records.append(base | sim)
                # not the workflow's rule: the slowest band first, each band's trials in one burst
                lpt = simulate("async", work, o["async"], choose=longest_first, gpus=gpus, in_flight=flight)
                records.append(base | {"policy": "longest_band_first"} | lpt)
    check = {}
    for mode in ("async", "sync"):
        r = next(x for x in records if x["part"] == "real" and x["mode"] == mode)
        s = next(
            x for x in records if x["part"] == "simulated" and x.get("replay_of_real") and x["mode"] == mode
        )
        check[mode] = {"real": r["utilisation"], "simulated": s["utilisation"],
                       "difference": s["utilisation"] - r["utilisation"]}  # fmt: skip
    ratios = {}  # sync's wall over async's, per async in_flight
    groups = [("real_48", lambda r: r["part"] == "real")] + [
        (f"simulated_{sc}_{g}", lambda r, sc=sc, g=g: r.get("scale") == sc and r.get("cluster") == g)
        for sc in ("bench", "preset")
        for g in PER_BAND
    ]
    for name, member in groups:
        group = [r for r in records if member(r) and "policy" not in r]
        sync = next(r for r in group if r["mode"] == "sync")
        for r in group:
            if r["mode"] == "async" and r["trainings"] == sync["trainings"]:  # the same work only
                ratios[f"{name}_in_flight_{r.get('in_flight', GPUS)}"] = sync["wall_s"] / r["wall_s"]
    doc = {
        "what": __doc__.splitlines()[0],
        "machine": f"{os.cpu_count()} cores, no GPU; Slurm node of {GPUS} virtual GPUs, {CPUS} virtual CPUs",
        "shape": {
            "bands_ms": EDGES_MS,
            "latency": LATENCY,
            "per_band": 8,
            "rounds_real": args.rounds,
            "rounds_simulated": args.sim_rounds,
            "in_flight_per_gpu": args.in_flight,
            "seconds_per_ms": args.seconds_per_ms,
        },
        "utilisation": "busy GPU-seconds (each training job's elapsed time x 1 GPU) / (GPUs x wall); "
        "wall: first training's start to last training's end",
        "overheads": {m: o.__dict__ for m, o in oh.items()} | spread,
        "overheads_preset_scale": preset_oh.__dict__ | {"seconds_per_ms": preset_spm},
        "simulation_vs_real_at_48": check,
        "wall_ratio_sync_over_async": ratios,
        "records": records,
    }
    args.out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    for r in records:
        log.info("%-9s %-6s %-5s %3d GPUs %4s in flight %5d trainings: wall %8.0f s, utilisation %.3f %s",
                 r["part"], r.get("scale", ""), r["mode"], r["gpus"], r.get("in_flight", ""), r["trainings"],
                 r["wall_s"], r["utilisation"], r.get("policy", ""))  # fmt: skip


if __name__ == "__main__":
    main()
