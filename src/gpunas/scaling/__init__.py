"""Search once, scale by latency: compound scaling of a base network into a family.

:mod:`gpunas.scaling.compound` holds the method (coefficients, their grid, scaling an
architecture, the two selection rules); the pipeline stage that trains and costs the grid is
built on it.
"""
