"""The rules of the final validation (rules/validation.smk), one function each, under the rule's name.

``validate_hub`` is the library's :func:`gpunas.validation.validate` itself (no pass-through).
"""

from __future__ import annotations

from gpunas.validation import validate as validate_hub

__all__ = ["validate_hub"]
