"""Model code: block registry, builder and analytic counts."""
