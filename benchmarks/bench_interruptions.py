"""Work lost per interruption of a training job, against the checkpoint interval (issue 22, item 5).

A real training job (``gpunas.training.trial.run_training_job``, the one every training rule
runs) is interrupted half-way and run again, as Snakemake's retry or Slurm's requeue would:

- ``sigterm``: the job gets SIGTERM (preemption, ``scancel``, Slurm's signal ahead of a time limit);
  the training checkpoints after its current step and leaves;
- ``sigkill``: the job and its training are SIGKILLed (a lost node): only the last periodic
  checkpoint (every ``checkpoint_s``) survives.

Work lost = (seconds run before the interruption + seconds of the resumed run) - seconds of an
uninterrupted run of the same job: the recomputed steps plus the restart (process start, imports,
data and checkpoint loading). Each resumed run is checked to end with the uninterrupted run's
validation accuracy and loss curve (bitwise on the CPU). Medians over ``--repeats``.

    python benchmarks/bench_interruptions.py   # -> benchmarks/results/interruptions.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARCH = "res64-s0_conv_n1_k3_s2_c16_swish-s1_ir_n2_k3_s2_e4_c32_relu_se-head64"
TRAIN = {"epochs": 3, "batch_size": 32, "device": "cpu"}


def job_script(outdir: Path, data: Path, checkpoint_s: float | None) -> str:
    return textwrap.dedent(f"""
        import json
        from pathlib import Path
        from gpunas.training.trial import TrainingJob, run_training_job
        job = TrainingJob(arch={ARCH!r}, data={{"dir": {str(data)!r}}}, train={TRAIN!r}, seed=0, threads=1,
                          outdir=Path({str(outdir)!r}), attempt=1, attempts=2, checkpoint_s={checkpoint_s!r})
        print(json.dumps(run_training_job(job)))
    """)


def run_job(outdir: Path, data: Path, checkpoint_s: float | None) -> tuple[float, dict]:
    """Run the job to its end; (seconds, result)."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", job_script(outdir, data, checkpoint_s)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return time.perf_counter() - t0, json.loads(out.strip().splitlines()[-1])


def interrupted(
    outdir: Path, data: Path, checkpoint_s: float, after_s: float, how: str
) -> tuple[float, dict]:
    """Run the job, interrupt it ``after_s`` seconds in, run it again to its end; (total s, result)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", job_script(outdir, data, checkpoint_s)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    time.sleep(after_s)
    if how == "sigterm":
        os.kill(proc.pid, signal.SIGTERM)
    else:  # a lost node: the job and its training die at once
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = time.perf_counter() - t0
    second, result = run_job(outdir, data, checkpoint_s)
    return first + second, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--intervals", type=float, nargs="+", default=[5.0, 15.0])
    parser.add_argument("--out", default=str(HERE / "results" / "interruptions.json"))
    args = parser.parse_args()
    from gpunas.datasets.prepared import prepare

    work = Path(tempfile.mkdtemp(prefix="gpunas-interruptions-"))
    data = work / "data"
    prepare("animal_mnist", train_images=3000, val_images=500, outdir=data)
    base = [run_job(work / f"whole{i}", data, None) for i in range(args.repeats)]
    whole_s = statistics.median(s for s, _ in base)
    ref = base[0][1]
    rows = []
    for how in ("sigterm", "sigkill"):
        for interval in args.intervals:
            lost = []
            for r in range(args.repeats):
                total, result = interrupted(
                    work / f"{how}-{interval:g}-{r}", data, interval, whole_s / 2, how
                )
                same = all(result[k] == ref[k] for k in ("val_top1", "val_loss", "curve", "steps"))
                lost.append(total - whole_s)
                rows.append({"interruption": how, "checkpoint_s": interval, "repeat": r,
                             "seconds_lost": round(total - whole_s, 2), "same_result_as_uninterrupted": same})  # fmt: skip
                print(
                    f"{how} every {interval:g} s, repeat {r}: lost {total - whole_s:.1f} s, same result {same}"
                )
            rows.append({"interruption": how, "checkpoint_s": interval, "median_seconds_lost": round(statistics.median(lost), 2),
                         "bound_s": interval if how == "sigkill" else None})  # fmt: skip
    doc = {
        "what": "seconds of work lost per interruption of a real training job, resumed from its checkpoint",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only",
        "job": {"arch": ARCH, "train": TRAIN, "data": "animal_mnist 3,000 train / 500 val"},
        "uninterrupted_s": [round(s, 2) for s, _ in base],
        "interrupted_after_s": round(whole_s / 2, 2),
        "rows": rows,
        "method": "lost = seconds before the interruption + seconds of the resumed run - median uninterrupted "
        "seconds; sigterm: the training checkpoints when told to stop; sigkill: the job's process group is "
        "killed and the last periodic checkpoint survives",
    }
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
