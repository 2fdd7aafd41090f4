def test_merge_settings_merges_mappings_replaces_values_and_deletes_on_none():
    from gpunas.config import merge_settings

    base = {
        "jobs": 600,
        "default-resources": {"mem_mb": 1000, "runtime": 30, "slurm_extra": "--signal"},
        "x": [1],
    }
    over = {"jobs": 4, "default-resources": {"mem_mb": 400, "slurm_extra": None}, "x": [2], "new": {"a": 1}}
    assert merge_settings(base, over) == {
        "jobs": 4,
        "default-resources": {"mem_mb": 400, "runtime": 30},
        "x": [2],
        "new": {"a": 1},
    }
    assert base["default-resources"]["mem_mb"] == 1000  # the input is left as it was
