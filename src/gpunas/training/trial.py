"""One training job (a candidate, a baseline or a finalist), run in a child process so that a crash
of the trainer is data, not fatal. This is the only training-job wrapper.

The job's process (the parent) owns a scratch folder, ``<trial folder>/run/``:

- ``spec.json``: what is trained (architecture, data, schedule, seed): written by the parent;
- ``result.json``: the child's result (``status``, ``reason``, ``val_top1``, curve, ...);
- ``weights.pt``: the child's trained weights (only for a complete training);
- ``train.log``: the child's log.

Lifecycle: the folder is created by the job and kept after it; a later job with exactly the same
spec reuses a finished ``result.json`` instead of training again (a driver killed after a
training finished but before Snakemake recorded it loses nothing; ``train.reuse_finished``).
Anything else in it is overwritten by the next run. The job's *declared* outputs are
``metrics.json`` and ``weights.pt`` beside the scratch folder; ``weights.pt`` is a hard link to
(or copy of) the scratch weights, and an empty file when the trial has no model.

Failures:

- NaN loss or an exception inside the child: recorded ``status: failed`` at once, with the
  exception's first line (retrying would fail the same way).
- The child dies (signal, out of memory, the job's time budget): on every attempt but the last
  the parent raises, so Snakemake retries the job with the next attempt's larger ``mem_mb`` and
  ``runtime``; on the last attempt (``attempt == attempts``, from Snakemake) it records
  ``status: failed`` with the reason, and the search goes on.
- Memory: ``mem_mb`` is enforced as a cluster's limit would: the parent watches the resident
  memory of the child and all its descendants (its DataLoader workers; psutil, summed as Slurm's
  default accounting sums its tasks') and kills the whole tree above ``mem_mb`` ("killed for
  memory"). Where the platform does not let it be read, the log says so once.
- Checkpoints: the child saves its whole state (:class:`gpunas.training.train.Checkpoints`) to
  ``run/checkpoint.pt`` every ``train.checkpoint_minutes`` and whenever it is told to stop; a
  later run of the same spec resumes from it and ends with the same result, bit for bit on the
  CPU. It is deleted once the result is written.
- Time: when the job's ``runtime`` (minutes) is nearly spent, leaving the parent a margin to
  record the result before a scheduler's own limit, the child is told to stop (SIGUSR1: it
  checkpoints and leaves). With attempts left the job fails and its retry resumes; on the last
  attempt the whole time budget is spent and the trial is recorded ("time limit").
- SIGTERM, SIGINT or SIGUSR1 to the parent (preemption, ``scancel``, Slurm's signal ahead of a
  time limit): an interruption, not the candidate's doing. The child checkpoints, the job ends
  non-zero on any attempt (:class:`TrialInterruptedError`), nothing is recorded, and the job that
  runs next (Snakemake's retry, Slurm's requeue, a rerun) resumes.
- No GPU where the job asked for one (``train.gpu`` >= 1, or ``train.device: cuda``): the node's
  failure (:class:`MissingGPUError`); the job fails before training, nothing is recorded.

Every failure of the job rather than of its candidate is an
:class:`~gpunas.errors.InfrastructureError`: one line in the job's log and on its stderr.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from gpunas.errors import GpunasError, InfrastructureError
from gpunas.io import atomic_path, atomic_write_json, write_no_model

log = logging.getLogger(__name__)
EXIT_INTERRUPTED = 75  # the child's exit status after saving its checkpoint when told to stop (EX_TEMPFAIL)
STOP_GRACE_S = 120.0  # how long the parent waits for the child to checkpoint once told to stop

# config keys of `train` that drive the job, not the training itself (kept out of the spec)
JOB_KEYS = {"reuse_finished", "mem_mb", "runtime", "gpu", "retries", "checkpoint_minutes"}
FAULTS = (
    "nan",
    "raise",
    "kill",
    "oom",
    "oom_loader",
    "hang",
)  # injected failures, for tests of the failure paths


def get_schedule(train: dict[str, Any]) -> dict[str, Any]:
    """The ``train`` keys a job passes on: everything but the job's resources (``mem_mb``, ``runtime``,
    ``gpu``, ``retries``), its threads and its loader processes, which change no result."""
    return {
        k: v
        for k, v in train.items()
        if k not in ("mem_mb", "runtime", "gpu", "retries", "threads", "workers", "checkpoint_minutes")
    }


class TrialCrashedError(InfrastructureError):
    """The training process died on an attempt that is not the last; Snakemake retries the job."""


class TrialInterruptedError(InfrastructureError):
    """The job was told to stop (preemption, ``scancel``, a signal ahead of its time limit): the
    training checkpointed, nothing is recorded, and the next run of the job resumes."""


class MissingGPUError(InfrastructureError):
    """The job asked for a GPU (``train.gpu`` >= 1 or ``train.device: cuda``) and torch sees none:
    the node's fault, not the candidate's. Nothing is recorded; the job fails so that it runs
    again (elsewhere, or once the node is fixed)."""


def check_gpu(device: str, gpus: int) -> None:
    """Raise :class:`MissingGPUError` when the job asked for a GPU (``gpus`` >= 1, or ``device``
    ``cuda``) and torch sees no CUDA device; the message names the node, the job and
    ``CUDA_VISIBLE_DEVICES``. ``device: cpu`` asks for none whatever ``gpus`` says."""
    if device == "cpu" or (gpus < 1 and device != "cuda"):
        return
    import socket

    import torch

    if torch.cuda.is_available():
        return
    job = os.environ.get("SLURM_JOB_ID")
    raise MissingGPUError(
        f"no CUDA device visible on node {socket.gethostname()}"
        + (f" (Slurm job {job})" if job else "")
        + f": the job asked for train.gpu {gpus} with train.device {device}, "
        f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')}; "
        "nothing is recorded, the job fails so that it runs again"
    )


@dataclass(frozen=True)
class TrainingJob:
    """One training job: what to train, and the job's resources for this attempt.

    ``attempt`` is Snakemake's (1-based); ``attempts`` = ``train.retries`` + 1. ``mem_mb`` and
    ``runtime_min`` are this attempt's requests (they grow with the attempt).
    """

    arch: str
    data: dict[str, Any]
    train: dict[str, Any]
    seed: int
    threads: int
    outdir: Path
    attempt: int = 1
    attempts: int = 1
    mem_mb: float | None = None
    runtime_min: float | None = None
    reuse: bool = True
    fault: str | None = None
    checkpoint_s: float | None = None  # seconds between checkpoints (None or 0: only when told to stop)
    gpus: int = 0  # GPUs the job asked for (train.gpu): none visible is the node's failure
    extra: dict[str, Any] = field(default_factory=dict)  # merged into the spec (e.g. the test split)

    def spec(self) -> dict[str, Any]:
        """What the child trains: the same for searched candidates and baselines."""
        train = {k: v for k, v in self.train.items() if k not in JOB_KEYS}
        spec = {
            "arch": self.arch,
            "data": self.data,
            "train": train,
            "seed": self.seed,
            "threads": self.threads,
        }
        return spec | self.extra | ({"inject_fault": self.fault} if self.fault else {})


def dataset_ref(dataset: str | Path | None) -> dict[str, Any]:
    """What a spec says of its data: the prepared folder and its fingerprint (a dataset prepared
    anew is a different spec, so a finished training on the old one is not reused)."""
    if dataset is None:
        return {}
    from gpunas.datasets.prepared import fingerprint

    folder = Path(dataset).parent
    return {"dir": str(folder), "fingerprint": fingerprint(folder)}


def dataset_summary(dataset: str | Path | None) -> dict[str, Any]:
    """Source, split sizes and classes of a prepared dataset (for cards and reports)."""
    if dataset is None:
        return {}
    doc = json.loads(Path(dataset).read_text())
    return {
        "source": doc["source"],
        "classes": doc["classes"],
        **{f"{k}_images": v for k, v in doc["splits"].items()},
    }


def tree_rss_mb(pid: int) -> float | None:
    """Resident memory (MB) of process ``pid`` and all its descendants (DataLoader workers
    included), summed as Slurm's default accounting sums its tasks' RSS; 0 when the process is
    gone, None where this platform does not let psutil read it."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    except (psutil.AccessDenied, NotImplementedError):
        return None
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:  # a worker that ended between the listing and the reading
            continue
        except (psutil.AccessDenied, NotImplementedError):
            return None
    return total / 2**20


def time_budget_s(runtime_min: float | None) -> float | None:
    """Seconds the child may run: the job's runtime less a margin to checkpoint and record the
    result (10%, at least 10 s and at most 5 min), so neither the scheduler's limit nor its
    warning signal ahead of it (profiles/slurm: SIGTERM 60 s before, which Slurm may send up to
    60 s early) usually comes first."""
    if not runtime_min:
        return None
    total = runtime_min * 60.0
    return max(1.0, total - min(300.0, max(10.0, 0.1 * total)))


class _Stop:
    """SIGTERM / SIGINT received by the parent while the child runs."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.signal = signum


def supervise(
    proc: subprocess.Popen, mem_mb: float | None, budget_s: float | None, stop: _Stop, poll_s: float = 0.1
) -> str | None:
    """Wait for ``proc``; kill it (and its DataLoader workers) above ``mem_mb`` of resident memory,
    counted over the whole process tree; past ``budget_s`` or on a stop signal; return why.

    Where the platform does not let the memory be read, that is said once in the log and only the
    scheduler's own limit applies."""
    peak, started, unreadable = 0.0, time.monotonic(), False
    while proc.poll() is None:
        reason = None
        if mem_mb and not unreadable:
            now = tree_rss_mb(proc.pid)
            if now is None:
                unreadable = True
                log.warning(
                    "train.mem_mb %.0f is not enforced by gpunas here: this platform does not let "
                    "psutil read the training's memory (the scheduler's limit still applies)",
                    mem_mb,
                )
            else:
                peak = max(peak, now)
            if peak > mem_mb:
                reason = (
                    f"killed for memory: resident {peak:.0f} MB (training and its loader workers) exceeded "
                    f"the job's mem_mb {mem_mb:.0f}"
                )
        if reason:
            _kill_tree(proc)
            return reason
        told = None
        if budget_s is not None and time.monotonic() - started > budget_s:
            told = f"time limit: stopped after {budget_s:.0f} s of the job's runtime"
        if stop.signal is not None:
            told = f"interrupted: the job received {signal.Signals(stop.signal).name}"
        if told:
            _stop_child(proc)
            return told
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=poll_s)
    return None


def _stop_child(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """Tell the child to stop (SIGUSR1: it checkpoints after its current step and leaves); kill
    it and its workers if it has not left after ``grace_s``."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGUSR1)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        log.warning("the training did not stop within %.0f s of being told to: killed", grace_s)
        _kill_tree(proc)


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the training process and its descendants (its DataLoader workers)."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except (psutil.Error, NotImplementedError):
        children = []
    proc.kill()
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    proc.wait()


def describe_exit(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (killed: out of memory or time limit?)" if -code == signal.SIGKILL else ""
        return f"training process died from {name}{hint}"
    return f"training process exited with status {code}"


def finished_result(spec: dict[str, Any], run: Path) -> dict[str, Any] | None:
    """The result of an earlier run of exactly this spec, if it finished (see the module docstring)."""
    spec_path, result_path = run / "spec.json", run / "result.json"
    if not (spec_path.exists() and result_path.exists()):
        return None
    try:
        same = json.loads(spec_path.read_text()) == json.loads(json.dumps(spec))
        return json.loads(result_path.read_text()) if same else None
    except ValueError:
        return None


def run_child(job: TrainingJob, run: Path) -> tuple[int, dict[str, Any] | None, str | None]:
    """Start the child on ``run/spec.json`` and supervise it; (exit code, result, why it was stopped)."""
    run.mkdir(parents=True, exist_ok=True)
    result_path = run / "result.json"
    result_path.unlink(missing_ok=True)
    atomic_write_json(run / "spec.json", job.spec())
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(job.threads),
        "MKL_NUM_THREADS": str(job.threads),
        "GPUNAS_CHECKPOINT_S": str(job.checkpoint_s or 0),
    }
    stop = _Stop()
    main = threading.current_thread() is threading.main_thread()  # handlers only there (a benchmark's pool)
    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
    handlers = {s: signal.signal(s, stop) for s in signals} if main else {}
    try:
        with open(run / "train.log", "a") as logf:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gpunas.training.trial", str(run / "spec.json")],
                env=env,
                stdout=logf,
                stderr=logf,
            )
            stopped = supervise(proc, job.mem_mb, time_budget_s(job.runtime_min), stop)
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    result = json.loads(result_path.read_text()) if proc.returncode == 0 and result_path.exists() else None
    return proc.returncode, result, stopped


def run_training_job(job: TrainingJob, weights_out: str | Path | None = None) -> dict[str, Any]:
    """Run (or reuse) the training of ``job``; return its result, or a failed record on the last attempt.

    ``weights_out``: the declared weights output, linked to the trained weights (an empty file
    when there is no model).
    """
    run = job.outdir / "run"
    spec = job.spec()
    result = finished_result(spec, run) if job.reuse else None
    if result is not None:
        log.info(
            "reusing the finished training in %s (same spec); set train.reuse_finished: false to retrain", run
        )
    else:
        check_gpu(str(job.train.get("device", "auto")), job.gpus)
        code, result, stopped = run_child(job, run)
        if result is None and stopped and stopped.startswith("interrupted"):
            checkpointed = code == EXIT_INTERRUPTED and (run / "checkpoint.pt").exists()
            raise TrialInterruptedError(
                f"{stopped}: not a failure of the candidate; "
                + (
                    "checkpointed, the next run resumes"
                    if checkpointed
                    else "no checkpoint yet, the next run restarts"
                )
            )
        if result is None:
            reason = stopped or describe_exit(code)
            if code == EXIT_INTERRUPTED and not stopped:
                reason = "the training stopped on its own signal handling without a result"
            where = f"on attempt {job.attempt} of {job.attempts}"
            if job.mem_mb:
                where = f"mem_mb {job.mem_mb:.0f} {where}"
            if job.attempt < job.attempts:
                raise TrialCrashedError(f"{reason}; {where}; Snakemake will retry with more memory and time")
            log.error("%s (%s): recorded as failed", reason, where)
            result = {"status": "failed", "reason": f"{reason} ({where})", "val_top1": None, "seed": job.seed}
    if weights_out is not None:
        _link_weights(run / "weights.pt" if result.get("status") == "complete" else None, Path(weights_out))
    return result


def _link_weights(source: Path | None, target: Path) -> None:
    if source is None or not source.exists():
        write_no_model(target)
        return
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:  # another file system
            shutil.copyfile(source, tmp)


def _child(spec_path: str) -> int:
    """Entry point of the training process: every failure becomes a result with its reason."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from gpunas.training.train import TrainingInterrupted

    run = Path(spec_path).parent
    spec = json.loads(Path(spec_path).read_text())
    told: list[int] = []
    for sig in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: told.append(signum))
    try:
        result = _train(spec, run, stop_requested=lambda: bool(told))
    except TrainingInterrupted as exc:
        log.info("%s", exc)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a failed candidate is data, not a crash
        log.exception("training failed")
        result = {
            "status": "failed",
            "reason": f"{type(exc).__name__}: {exc}".splitlines()[0],
            "val_top1": None,
            "seed": spec.get("seed"),
        }
    atomic_write_json(run / "result.json", result)
    (run / "checkpoint.pt").unlink(missing_ok=True)  # the trial is recorded: its checkpoint is done
    return 0


def _train(spec: dict[str, Any], run: Path, stop_requested: Any = None) -> dict[str, Any]:
    import hashlib

    from gpunas.arch import Architecture
    from gpunas.datasets.prepared import TrainingData
    from gpunas.training.train import Checkpoints, TrainConfig, train_network

    fault = spec.get("inject_fault")
    if fault not in (None, *FAULTS):
        raise GpunasError(f"inject_fault {fault!r} is not one of {list(FAULTS)}")
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "hang":  # a training step that takes longer than the job's time budget
        from gpunas.training.train import TrainingInterrupted

        while True:
            time.sleep(0.2)
            if stop_requested is not None and stop_requested():
                raise TrainingInterrupted("stopped while hanging (fault 'hang'); nothing to checkpoint")
    if fault == "oom":  # grows until the parent's memory watch kills it
        import numpy as np

        hog = []
        while True:
            hog.append(np.ones(32 << 20, dtype=np.uint8))
    cfg = TrainConfig.from_dict({**spec["train"], "threads": spec["threads"]})
    if fault == "nan":
        cfg = TrainConfig.from_dict({**spec["train"], "threads": spec["threads"], "lr": 1e30})
    arch = Architecture.from_string(spec["arch"])
    if fault == "raise":
        arch = Architecture(arch.resolution, arch.stages, head_width=arch.head_width, in_channels=5)
    data = TrainingData.open(spec["data"]["dir"])
    if fault == "oom_loader":  # a DataLoader worker grows until the parent's memory watch kills the tree
        data.train = _HoggingImages(data.train)
    every_s = float(os.environ.get("GPUNAS_CHECKPOINT_S") or 0) or None
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    checkpoints = Checkpoints(run / "checkpoint.pt", key, every_s, stop_requested or (lambda: False))
    return train_network(
        arch,
        data,
        cfg,
        spec["seed"],
        weights=run / "weights.pt",
        test=spec.get("test", False),
        checkpoints=checkpoints,
    )


class _HoggingImages:
    """Tests only (fault ``oom_loader``): images whose every read, in a DataLoader worker, keeps
    256 MB more allocated."""

    _hog: ClassVar[list[Any]] = []

    def __init__(self, images: Any) -> None:
        self.images, self.shape = images, images.shape

    def __len__(self) -> int:
        return len(self.images)

    def read(self, indices: Any) -> Any:
        import numpy as np

        self._hog.append(np.ones(256 << 20, dtype=np.uint8))
        time.sleep(0.5)
        return self.images.read(indices)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
