"""One training trial, run in a child process so that a crash of the trainer is data, not fatal.

The rule's process (the parent) writes ``spec.json``, starts ``python -m gpunas.search.trial
spec.json`` and waits. The child trains and writes ``result.json`` (and ``weights.pt``).

- NaN loss or an exception inside training: the child records ``status: failed`` itself.
- The child dies (out-of-memory kill, segfault, SIGKILL): the parent raises on every attempt
  but the last, so Snakemake retries the job with more resources; on the last attempt it
  records ``status: failed`` with the signal, and the search goes on.
- Memory: the job's ``mem_mb`` is a limit, enforced as a cluster's cgroup would: the parent
  watches the child's resident memory and kills it with SIGKILL when it exceeds ``mem_mb``
  (the reason says so). A retry runs with the larger ``mem_mb`` of the next attempt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from gpunas.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)


class TrialCrashedError(RuntimeError):
    """The training process died; raised so that Snakemake retries the job."""


# config keys of `train` that drive the job, not the training itself (kept out of the spec)
JOB_KEYS = {"inject_fault", "reuse_finished", "mem_mb", "runtime", "gpu", "retries"}


def training_spec(
    arch: str, data: dict[str, Any], train: dict[str, Any], seed: int, threads: int
) -> dict[str, Any]:
    """What a trial trains: the same for searched candidates and baselines."""
    return {"arch": arch, "data": data, "train": {k: v for k, v in train.items() if k not in JOB_KEYS},
            "seed": seed, "threads": threads}  # fmt: skip


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def wait_within_memory(proc: subprocess.Popen, mem_mb: float | None, poll_s: float = 0.1) -> str | None:
    """Wait for ``proc``; SIGKILL it when its resident memory exceeds ``mem_mb``; return why."""
    peak = 0.0
    while proc.poll() is None:
        if mem_mb:
            peak = max(peak, rss_mb(proc.pid))
            if peak > mem_mb:
                proc.kill()
                proc.wait()
                return f"killed for memory: resident {peak:.0f} MB exceeded the job's mem_mb {mem_mb:.0f}"
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=poll_s)
    return None


def run_child(
    spec: dict[str, Any], outdir: Path, threads: int, mem_mb: float | None = None
) -> tuple[int, dict[str, Any] | None, str | None]:
    outdir.mkdir(parents=True, exist_ok=True)
    spec_path = outdir / "spec.json"
    result_path = outdir / "result.json"
    result_path.unlink(missing_ok=True)
    atomic_write_json(spec_path, spec)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with open(outdir / "train.log", "a") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gpunas.search.trial", str(spec_path)], env=env, stdout=logf, stderr=logf
        )
        killed = wait_within_memory(proc, mem_mb)
    result = json.loads(result_path.read_text()) if proc.returncode == 0 and result_path.exists() else None
    return proc.returncode, result, killed


def describe_exit(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (killed: out of memory or time limit?)" if -code == signal.SIGKILL else ""
        return f"training process died from {name}{hint}"
    return f"training process exited with status {code}"


def finished_result(spec: dict[str, Any], outdir: Path) -> dict[str, Any] | None:
    """The result of an earlier run of exactly this spec, if it finished (see :func:`run_trial`)."""
    spec_path, result_path = outdir / "spec.json", outdir / "result.json"
    if not (spec_path.exists() and result_path.exists()):
        return None
    try:
        same = json.loads(spec_path.read_text()) == json.loads(json.dumps(spec))
        return json.loads(result_path.read_text()) if same else None
    except ValueError:
        return None


def run_trial(
    spec: dict[str, Any],
    outdir: Path,
    threads: int,
    attempts: int,
    reuse: bool = True,
    mem_mb: float | None = None,
) -> dict[str, Any]:
    """Run the child; return its result, or a failed record once it has died ``attempts`` times.

    With ``reuse``, a result that the child already wrote for the identical spec is returned
    without training again: a driver killed after a training finished, but before Snakemake
    recorded the job, then loses nothing. Crashes are counted in ``crashes.jsonl`` beside the
    trial, so the count survives retries and restarts; it is removed once a final result exists.
    """
    crashes_path = outdir / "crashes.jsonl"
    if reuse and (earlier := finished_result(spec, outdir)) is not None:
        log.info(
            "reusing the finished training in %s (same spec); set train.reuse_finished: false to retrain",
            outdir,
        )
        return earlier
    code, result, killed = run_child(spec, outdir, threads, mem_mb)
    crashes = crashes_path.read_text().splitlines() if crashes_path.exists() else []
    if result is not None:
        crashes_path.unlink(missing_ok=True)
        return result | ({"crashes": [json.loads(c) for c in crashes]} if crashes else {})
    reason = killed or describe_exit(code)
    crashes.append(json.dumps({"attempt": len(crashes) + 1, "reason": reason}))
    if len(crashes) < attempts:
        atomic_write_text(crashes_path, "\n".join(crashes) + "\n")
        raise TrialCrashedError(f"{reason} on attempt {len(crashes)} of {attempts}; Snakemake will retry")
    log.error("%s on attempt %d of %d: recorded as failed", reason, len(crashes), attempts)
    crashes_path.unlink(missing_ok=True)
    return {
        "status": "failed",
        "reason": f"{reason} on attempt {len(crashes)} of {attempts}",
        "val_top1": None,
        "crashes": [json.loads(c) for c in crashes],
    }


def _child(spec_path: str) -> int:
    """Entry point of the training process."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from gpunas.arch import Architecture
    from gpunas.datasets.loader import load_split
    from gpunas.train import TrainConfig, train_candidate

    spec = json.loads(Path(spec_path).read_text())
    outdir = Path(spec_path).parent
    fault = spec.get("inject_fault")  # for tests of the failure paths only
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "oom":  # grows until the parent's memory watch kills it
        import numpy as np

        hog = []
        while True:
            hog.append(np.ones(32 << 20, dtype=np.uint8))
    data = load_split(**spec["data"])
    cfg = TrainConfig.from_dict({**spec["train"], "threads": spec["threads"]})
    if fault == "nan":
        cfg = TrainConfig.from_dict({**spec["train"], "threads": spec["threads"], "lr": 1e30})
    arch = Architecture.from_string(spec["arch"])
    if fault == "raise":
        arch = Architecture(arch.resolution, arch.stages, head_width=arch.head_width, in_channels=5)
    result = train_candidate(arch, data, cfg, spec["seed"], weights=outdir / "weights.pt")
    atomic_write_json(outdir / "result.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
