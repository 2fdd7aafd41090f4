"""Table evaluator over the real NAS-Bench-201 CSV: sparse tables, and every bad value in one line."""

import numpy as np
import pandas as pd
import pytest

from gpunas.errors import GpunasError
from gpunas.evaluators import create_evaluator
from gpunas.evaluators.table import Table
from gpunas.spaces import load_space

from ..workflow.conftest import ROOT

CSV = ROOT.parent / "shared" / "data" / "nasbench201_hw.csv"
pytestmark = pytest.mark.skipif(not CSV.exists(), reason=f"{CSV} is not beside the checkout")
COLS = {"key": "cellstr", "accuracy": "cifar10_test", "latency": "latency_ms_titan_rtx_1"}


@pytest.fixture(scope="module")
def lines():
    return CSV.read_text().splitlines(keepends=True)


def _copy(tmp_path, lines, edit=None, rows=None):
    """A copy of the real CSV (its first ``rows`` rows), with data row ``edit[0]`` rewritten by ``edit[1]``."""
    body = list(lines[1 : (rows or len(lines)) + 1])
    if edit:
        body[edit[0]] = edit[1](body[edit[0]])
    path = tmp_path / "nb201.csv"
    path.write_text(lines[0] + "".join(body))
    return path


def _cell(line, header, col, value):
    cells = line.rstrip("\n").split(",")
    cells[header.index(col)] = value
    return ",".join(cells) + "\n"


def _read(path):
    return Table.from_csv(path, load_space("nasbench201"), **COLS)


def test_a_partial_table_gives_its_rows_as_candidates_in_sobol_order(tmp_path, lines):
    path = _copy(tmp_path, lines, rows=5000)
    ev = create_evaluator({"type": "table", "csv": str(path), **COLS})
    space = load_space("nasbench201")
    cands = ev.candidates(space, m=14, seed=0)
    table = _read(path)
    assert len(cands) == 5000 and len({tuple(v) for v in cands}) == 5000  # every row once, no other
    rows = table.rows_for(cands)
    assert sorted(rows.tolist()) == list(range(5000))
    assert not np.array_equal(rows, np.arange(5000))  # Sobol order, not file order
    assert ev.candidates(space, m=14, seed=0).tolist() == cands.tolist()  # seeded
    assert len(ev.candidates(space, m=10, seed=0)) == 1024
    # an architecture of the space outside the table is named, with the file
    outside = space.from_string(pd.read_csv(CSV)["cellstr"].iloc[9000])
    with pytest.raises(GpunasError, match=r"nb201.csv: architecture '\|.*' is not in the table"):
        table.rows_for(np.array([outside]))


@pytest.mark.parametrize(
    ("col", "value", "message"),
    [
        ("latency_ms_titan_rtx_1", "", r"line 12, column 'latency_ms_titan_rtx_1': the value is missing"),
        (
            "latency_ms_titan_rtx_1",
            "fast",
            r"line 12, column 'latency_ms_titan_rtx_1': 'fast' is not a number",
        ),
        ("latency_ms_titan_rtx_1", "-1.5", r"line 12, column 'latency_ms_titan_rtx_1': -1.5 is negative"),
        ("latency_ms_titan_rtx_1", "inf", r"line 12, column 'latency_ms_titan_rtx_1': 'inf' is not finite"),
        ("cifar10_test", "n/a", r"line 12, column 'cifar10_test': 'n/a' is not a number"),
        ("cellstr", "|conv~0|", r"line 12, column 'cellstr': '\|conv~0\|' does not match the template"),
        (
            "cellstr",
            "|conv~0|+|conv~0|conv~1|+|conv~0|conv~1|conv~2|",
            r"line 12, column 'cellstr': .*'conv' is not among",
        ),
    ],
)
def test_a_bad_cell_stops_with_one_line_naming_file_line_and_column(tmp_path, lines, col, value, message):
    header = lines[0].rstrip("\n").split(",")
    path = _copy(tmp_path, lines, edit=(10, lambda line: _cell(line, header, col, value)))
    with pytest.raises(GpunasError, match=r"nb201.csv: " + message) as exc:
        _read(path)
    assert "\n" not in str(exc.value)


def test_a_duplicated_row_is_named_with_the_row_it_repeats(tmp_path, lines):
    path = _copy(tmp_path, lines, edit=(10, lambda _: lines[1 + 3]))
    with pytest.raises(GpunasError, match=r"line 12, column 'cellstr': architecture '.*' repeats line 5$"):
        _read(path)


def test_a_blank_accuracy_is_a_failed_trial_not_an_error(tmp_path, lines):
    header = lines[0].rstrip("\n").split(",")
    path = _copy(tmp_path, lines, edit=(10, lambda line: _cell(line, header, "cifar10_test", "")))
    ev = create_evaluator({"type": "table", "csv": str(path), **COLS})
    space = load_space("nasbench201")
    vec = space.from_string(pd.read_csv(CSV)["cellstr"].iloc[10])
    result = ev.evaluate(space, {"encoding": vec}, None)
    assert result["status"] == "failed" and result["reason"] == "no accuracy in the table (line 12)"


def test_a_lookup_lasts_its_training_time_model_and_records_the_gpu(monkeypatch):
    import time

    ev = create_evaluator({"type": "table", "csv": str(CSV), **COLS, "seconds_per_ms": 0.05})
    space = load_space("nasbench201")
    row = pd.read_csv(CSV).iloc[3]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    t0 = time.perf_counter()
    result = ev.evaluate(space, {"encoding": space.from_string(row["cellstr"])}, None)
    # 0.05 s per ms of the row's latency: the simulated training's time, proportional to its cost
    assert result["simulated_s"] == pytest.approx(0.05 * row["latency_ms_titan_rtx_1"])
    assert time.perf_counter() - t0 >= result["simulated_s"] and result["wall_s"] == result["simulated_s"]
    assert result["cuda_visible_devices"] == "7" and result["val_top1"] == row["cifar10_test"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    quick = create_evaluator({"type": "table", "csv": str(CSV), **COLS})  # default: at once
    out = quick.evaluate(space, {"encoding": space.from_string(row["cellstr"])}, None)
    assert out["simulated_s"] == 0 and out["cuda_visible_devices"] is None
