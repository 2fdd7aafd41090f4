"""How candidates are scored: a registry of evaluators behind one small interface.

- ``train`` (:mod:`gpunas.evaluators.train`): every candidate of a CNN space is trained for real
  (a training job), and its latency comes from the LUT measured on the target device.
- ``table`` (:mod:`gpunas.evaluators.table`): accuracy and latency are looked up in a CSV, for a
  table space (search research on published tabular benchmarks).

The workflow asks an evaluator what it needs (:attr:`Evaluator.measures`: a LUT, fidelity and
validation on the device; :attr:`Evaluator.trains`: data, weights, baselines) instead of
branching on its name.
"""

from gpunas.evaluators import table, train
from gpunas.evaluators.base import Evaluator, create_evaluator, evaluator_names, register_evaluator

__all__ = ["Evaluator", "create_evaluator", "evaluator_names", "register_evaluator", "table", "train"]
