"""Small self-contained HTML pages and figures for ``snakemake --report`` (no templates, no network).

The report shows PNGs and HTML pages; the run's JSON/CSV results become readable pages here:
the search-space summary, the validation and baseline tables (budget breakers in red) and the
hub cards. Recorded benchmarks the config names become figures: the search strategies on
NAS-Bench-201 (``strategy_figure``) and the proxy's validity against a reference training
(``proxy_validity_figure``, the accuracy phase's counterpart of the LUT fidelity plot).
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from gpunas.io import atomic_write_text

log = logging.getLogger(__name__)

_STYLE = (
    "body{font-family:sans-serif;font-size:14px;margin:1em}table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
    "td.l{text-align:left}tr.bad td{background:#fde2e2;color:#900}code,pre{font-size:12px}"
)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h2>{html.escape(title)}</h2>{body}</body></html>\n"
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "-" if v != v else f"{v:.4g}"
    return html.escape(str(v))


def frame_html(df: pd.DataFrame, bad: pd.Series | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for i, r in enumerate(df.itertuples(index=False)):
        cls = " class='bad'" if bad is not None and bool(bad.iloc[i]) else ""
        cells = "".join(
            f"<td class='l'>{_fmt(v)}</td>" if isinstance(v, str) else f"<td>{_fmt(v)}</td>" for v in r
        )
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def space_page(summary: str | Path, output: str | Path) -> None:
    doc = json.loads(Path(summary).read_text())
    fields = pd.DataFrame(doc.get("fields", []))
    if "choices" in fields:
        fields["choices"] = fields["choices"].map(lambda c: ", ".join(map(str, c)))
    size = doc.get("cardinality")
    intro = (
        f"<p>Space <b>{html.escape(str(doc.get('name')))}</b> ({html.escape(str(doc.get('source', '-')))}): "
        f"{doc.get('dim', '?')} integers per candidate"
        + (f", {float(size):.3e} distinct architectures" if size is not None else "")
        + f". Fixed: {html.escape(str(doc.get('fixed', {})))}; tied: {html.escape(str(doc.get('tied', {})))}.</p>"
    )
    atomic_write_text(output, _page("Search space", intro + frame_html(fields)))


def validation_page(table: str | Path, output: str | Path) -> None:
    df = pd.read_csv(table)
    breakers = df["inside_budget"].eq("no")
    undecided = int(df["inside_budget"].eq("undecided").sum())
    note = (
        f"<p><b style='color:#900'>{int(breakers.sum())} model(s) measured over budget</b> (red rows).</p>"
        if breakers.any()
        else "<p>No validated model measured over its budget.</p>"
    )
    if undecided:
        note += (
            f"<p>{undecided} model(s) <b>undecided</b>: the interval of the measured median straddles "
            "the budget (more repeats, or a quieter machine, would decide).</p>"
        )
    drift_file = Path(table).with_name("drift.json")
    if drift_file.exists():
        drift = json.loads(drift_file.read_text())
        refs = "".join(
            f"<tr><td class='l'>{html.escape(r['arch'][:60])}</td><td>{r['then_ms']:.4f}</td>"
            f"<td>{r['now_ms']:.4f}</td><td>{r['now_ms'] / r['then_ms']:.3f}</td></tr>"
            for r in drift.get("reference_networks", [])
        )
        note += f"<p><b>Drift since the LUT</b>: {html.escape(drift['reason'])}</p>" + (
            "<table><tr><th>reference network</th><th>fidelity (ms)</th><th>now (ms)</th><th>ratio</th></tr>"
            f"{refs}</table>"
            if refs
            else ""
        )
    from gpunas.validation import COLUMNS

    cols = [
        c for c in COLUMNS if c not in ("device", "arch")
    ]  # the validation table, less what a page need not show
    atomic_write_text(
        output, _page("Validation on the target runtime", note + frame_html(df[cols], breakers))
    )


def baselines_page(table: str | Path, output: str | Path) -> None:
    df = pd.read_csv(table)
    cols = [
        "subspace",
        "budget_ms",
        "search_accuracy",
        "search_ms",
        "baseline_family",
        "baseline_accuracy",
        "baseline_ms",
        "accuracy_gain_pts",
        "latency_ratio_at_matched_accuracy",
    ]
    worse = df["accuracy_gain_pts"] < 0
    note = (
        "<p>Best searched (hub) model vs best baseline inside each budget; latency ratio at matched "
        "accuracy = baseline latency / fastest searched candidate at least as accurate (&gt; 1: search is "
        "faster). Red: a baseline beat the search.</p>"
    )
    atomic_write_text(output, _page("Search vs hand-designed baselines", note + frame_html(df[cols], worse)))


def hub_page(hub_dirs: list[str], validation: str | Path | None, output: str | Path) -> None:
    measured = {}
    if validation:
        val = pd.read_csv(validation)
        measured = {r["model"]: r for r in val.to_dict(orient="records")}
    parts = []
    for d in hub_dirs:
        card = json.loads((Path(d) / "card.json").read_text())
        title = f"{card['subspace']} ({card['name']})"
        if card["status"] != "ok":
            parts.append(f"<h3>{html.escape(title)}: no model</h3><p>{html.escape(card['reason'])}</p>")
            continue
        v = measured.get(card["subspace"], {})
        over = v.get("inside_budget") == "no"
        rows = {
            "status": card["status"],
            "proxy val top-1 (%)": f"{card['accuracy']:.2f}",
            "predicted latency (ms)": f"{card['predicted_ms']:.4f}",
            "measured latency (ms)": f"{v['measured_ms']:.4f} ({v['backend']})" if v else "-",
            "budget (ms)": f"< {card['budget_ms']:.4f}" + (" - OVER BUDGET" if over else ""),
            "parameters": f"{card['params']:,}" if card.get("params", -1) >= 0 else "-",
            "input": f"{card.get('resolution', '?')} px",
            "files": ", ".join(card.get("files", [])),
        }
        table = "".join(
            f"<tr{' class=bad' if over and k.startswith('budget') else ''}><th>{k}</th>"
            f"<td class='l'>{html.escape(str(x))}</td></tr>"
            for k, x in rows.items()
        )
        parts.append(
            f"<h3>{html.escape(title)}</h3><table>{table}</table><pre>{html.escape(card['arch'])}</pre>"
        )
    atomic_write_text(output, _page("Model hub cards", "".join(parts)))


def _placeholder(output: str | Path, text: str) -> None:
    from gpunas.plotting import pyplot, save_figure

    fig, ax = pyplot().subplots(figsize=(6, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", wrap=True)
    save_figure(fig, str(output))


def strategy_figure(benchmark: str | Path | None, output: str | Path) -> None:
    """Median best accuracy vs evaluations per band, per strategy and table, from the JSON of
    ``benchmarks/bench_tabular.py`` (which draws its own figure with this function)."""
    from gpunas.plotting import pyplot, save_figure

    if not benchmark or not Path(benchmark).exists():
        if benchmark:
            log.warning(
                "report.strategy_benchmark: %s not found: the report shows it as not recorded", benchmark
            )
        _placeholder(output, "No search-strategy benchmark recorded (report.strategy_benchmark).")
        return
    log.info("search strategies from %s", benchmark)
    doc = json.loads(Path(benchmark).read_text())
    if "bands" not in doc or "strategies" not in doc:
        log.warning(
            "%s: not a result of the current benchmarks/bench_tabular.py (no 'bands'): not plotted", benchmark
        )
        _placeholder(output, f"{benchmark}: an older format; re-run benchmarks/bench_tabular.py.")
        return
    rows = doc["bands"]
    tables = list(dict.fromkeys(r["table"] for r in rows))
    bands = list(dict.fromkeys(r["band"] for r in rows))
    plt = pyplot()
    fig, axes = plt.subplots(
        len(tables), len(bands), figsize=(4.2 * len(bands), 3.4 * len(tables)), squeeze=False
    )
    for row in rows:
        ax = axes[tables.index(row["table"])][bands.index(row["band"])]
        for i, name in enumerate(doc["strategies"]):
            if name in row:
                curve = row[name]["curve"]
                ax.plot(range(1, len(curve) + 1), curve, color=f"C{i}", lw=1.5, label=name)
        ax.axhline(row["band_best"], color="0.6", linestyle=":", label="best in band")
        exact = row.get("random_exact_median_best")  # the hypergeometric median, where recorded
        if exact:
            n = max(exact, key=int)
            level, label = float(exact[n]), f"random after {n} (exact median)"
        else:
            level, label = row["random_median_best_at_100"], "random after 100"
        ax.axhline(level, color="C0", lw=0.8, linestyle="--", label=label)
        ax.set_ylim(row["band_best"] - 4, row["band_best"] + 0.5)
        ax.set_title(
            f"{row['table']}: {row['band']} {row['lo_ms']:.2f}-{row['hi_ms']:.2f} ms ({row['rows']} rows)",
            fontsize=9,
        )
        ax.set_xlabel("evaluations in the band")
    for r in axes:
        r[0].set_ylabel(f"median best {doc.get('accuracy', 'accuracy')} (%)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(
        f"Search strategies on {doc.get('csv')} ({doc.get('device')}): median over {doc.get('seeds')} seeds, "
        f"batch {doc.get('batch')}",
        fontsize=10,
    )
    save_figure(fig, str(output))


def proxy_validity_figure(benchmark: str | Path | None, output: str | Path) -> None:
    """Proxy vs reference training, from the JSON of ``benchmarks/bench_proxy_validity.py`` (which
    draws its own figure with this function): accuracy vs latency, and proxy vs reference."""
    from gpunas.plotting import pyplot, save_figure

    if not benchmark or not Path(benchmark).exists():
        if benchmark:
            log.warning("report.proxy_validity: %s not found: the report shows it as not recorded", benchmark)
        _placeholder(output, "No proxy-validity benchmark recorded (report.proxy_validity).")
        return
    log.info("proxy validity from %s", benchmark)
    doc = json.loads(Path(benchmark).read_text())
    if not {"runs", "summary", "reference_schedule", "proxy_schedules"} <= set(doc):
        log.warning("%s: not a result of benchmarks/bench_proxy_validity.py: not plotted", benchmark)
        _placeholder(
            output, f"{benchmark}: not a proxy-validity result; re-run benchmarks/bench_proxy_validity.py."
        )
        return
    runs = pd.DataFrame(doc["runs"])
    ref_name = doc["reference_schedule"]["name"]
    mean = runs.groupby(["schedule", "arch"]).agg(top1=("val_top1", "mean"), ms=("predicted_ms", "first"))
    ref = mean.loc[ref_name].sort_values("ms")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    axes[0].plot(ref["ms"], ref["top1"], "k-o", lw=2, label=f"{ref_name} (1 seed)")
    for i, p in enumerate(doc["proxy_schedules"]):
        stats = doc["summary"]["proxies"][p["name"]]
        m = mean.loc[p["name"]].reindex(ref.index)
        lo, hi = stats["kendall_vs_reference_ci95"]
        label = (
            f"{p['name']}: tau vs ref {stats['kendall_vs_reference']:.2f} [{lo:.2f}, {hi:.2f}], "
            f"seed-to-seed {stats['kendall_seed_to_seed']:.2f}"
        )
        axes[0].plot(ref["ms"], m["top1"], "o--", c=f"C{i}", ms=4, label=label)
        axes[1].scatter(ref["top1"], m["top1"], c=f"C{i}", s=18, label=p["name"])
    axes[0].set_xlabel("predicted latency (ms)")
    axes[0].set_ylabel("validation top-1 (%)")
    axes[0].set_title(f"accuracy vs latency, {len(ref)} architectures (proxy: mean of 2 seeds)", fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("reference top-1 (%)")
    axes[1].set_ylabel("proxy top-1 (%)")
    axes[1].set_title(
        "proxy vs reference, per architecture (Kendall tau, 95% bootstrap interval)", fontsize=9
    )
    axes[1].legend(fontsize=7)
    save_figure(fig, str(output))


def render(
    summary: str,
    hub_dirs: list[str],
    validation: str | None,
    baselines: str | None,
    strategy_benchmark: str | None,
    proxy_validity: str | None,
    outdir: str | Path,
) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    space_page(summary, out / "space.html")
    hub_page(hub_dirs, validation, out / "hub_cards.html")
    not_run = "<p>Not part of this run (evaluator: table, or baselines.enabled: false).</p>"
    if validation:
        validation_page(validation, out / "validation.html")
    else:
        atomic_write_text(out / "validation.html", _page("Validation on the target runtime", not_run))
    if baselines:
        baselines_page(baselines, out / "baselines.html")
    else:
        atomic_write_text(out / "baselines.html", _page("Search vs hand-designed baselines", not_run))
    strategy_figure(strategy_benchmark, out / "search_strategies.png")
    proxy_validity_figure(proxy_validity, out / "proxy_validity.png")
    log.info("report pages written to %s", out)
