"""Search once, scale by latency: compound scaling of a base network into a family.

:mod:`gpunas.scaling.compound` holds the method (coefficients, their grid, scaling an
architecture, the two selection rules); :mod:`gpunas.scaling.stage` the pipeline stage built on
it (rules/scaling.smk: list, cost, train and choose).
"""
