"""The rules of the scaling stage (rules/scaling.smk), one function each, under the rule's name.

They are :mod:`gpunas.scaling.stage`'s functions themselves (no pass-through).
"""

from __future__ import annotations

from gpunas.scaling.stage import choose_scaling, cost_scaling, list_scaling

__all__ = ["choose_scaling", "cost_scaling", "list_scaling"]
