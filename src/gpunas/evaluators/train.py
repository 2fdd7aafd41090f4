"""The ``train`` evaluator: every candidate of a CNN space is trained for real, as its own job."""

from __future__ import annotations

from typing import Any, ClassVar

from gpunas.evaluators.base import Evaluator, register_evaluator
from gpunas.spaces.base import Space
from gpunas.training.trial import TrainingJob, run_training_job


@register_evaluator("train")
class TrainEvaluator(Evaluator):
    """Trains the candidate with the proxy schedule (:mod:`gpunas.training`); latency from the LUT."""

    space_kind: ClassVar[str] = "cnn"
    measures: ClassVar[bool] = True
    trains: ClassVar[bool] = True

    def evaluate(self, space: Space, entry: dict[str, Any], job: TrainingJob) -> dict[str, Any]:
        return run_training_job(job, weights_out=job.outdir / "weights.pt")
