"""gpunas as a plain (non-editable) install: spaces, schemas and NVIDIA's released files are package data."""

import shutil
import subprocess
import sys
import zipfile

import pytest

from ..conftest import ROOT


@pytest.mark.slow
def test_wheel_works_outside_the_repository(tmp_path):
    # built from a copy: setuptools writes build/ beside the sources it builds
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("gpunas-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("gpunas/data/spaces/gpunet.yaml", "gpunas/data/config.schema.yaml", "gpunas/data/space.schema.yaml",
                   "gpunas/data/gpunet_release/GV100/2.25ms-D.json", "gpunas/data/gpunet_release/LICENSE"):  # fmt: skip
        assert needed in names, needed
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    run = [
        sys.executable,
        "-c",
        "import sys, gpunas.cli; print(gpunas.cli.__file__, file=sys.stderr); sys.exit(gpunas.cli.main())",
    ]
    space = subprocess.run(
        [*run, "space", "gpunet"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
    )
    assert space.returncode == 0, space.stderr
    assert str(site) in space.stderr  # the installed copy, not the repository
    assert "41 integers" in space.stdout
    released = site / "gpunas/data/gpunet_release/GV100/0.65ms.json"
    for arch in (str(released), "GPUNet-D2"):
        desc = subprocess.run([*run, "describe", arch], cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert desc.returncode == 0, desc.stderr
    assert (
        "11,885,432 parameters"
        in subprocess.run(
            [*run, "describe", str(released)],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    )
