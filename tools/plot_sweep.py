#!/usr/bin/python3
"""plot_sweep.py: one metric of an `lcfm sweep --collect` table against one grid key.

  /usr/bin/python3 tools/plot_sweep.py SWEEP.h5 --x simulate.K --metric z_star \
      [--lines simulate.instruments] [--size 2000] --out r2_vs_K.png

--metric is one of
  NAME or mlp:NAME     the MLP probe's R^2 mean from input NAME (raw, z, baseline z, z_star,
                       z_instr) at --size training objects (by default the largest)
  gain:NAME            R^2(NAME) - R^2(baseline z) of the MLP probe at --size: what separating
                       the instrument gains over the baseline (needs [run] baseline = true)
  linear:NAME          the linear probe's R^2 of the target from latent NAME (test objects)
  instrument:NAME      the linear probe's instrument-ID accuracy from latent NAME (test objects)
  chance               the instrument-ID accuracy of the majority class
  wall_seconds         the time each point took
Points that are not done are left out; grid keys other than --x and --lines are averaged over
(the error bar is their standard deviation). Prints the PNG path; a bad argument or table gives
one line and exit 1. A metric of the MLP probe may end in @N for N training objects (gain:z_star@100).
--print writes the metric of every done point as a Markdown table instead
of drawing (--x, --lines and --out are then not needed).
"""
import argparse
import sys

import numpy as np


def fail(message):
    print(f"plot_sweep.py: {message}", file=sys.stderr)
    sys.exit(1)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def read_table(path):
    try:
        import h5py
    except ImportError:
        fail("needs python3-h5py (Debian package)")
    try:
        table = h5py.File(path, "r")
    except OSError as error:
        fail(f"{path}: cannot open: {error}")
    with table:
        if text(table.attrs.get("schema", b"")) != "lcfm-sweep":
            fail(f"{path}: not a table of lcfm sweep --collect (schema lcfm-sweep)")
        grid = {key: table["grid"][key][:] for key in table["grid"]}
        linear = "linear" in table
        return {
            "grid": grid,
            "status": table["points/status"][:],
            "wall": table["points/wall_seconds"][:],
            "inputs": [text(x) for x in table["probe/inputs"][:]],
            "sizes": list(table["probe/sizes"][:]),
            "r2": table["probe/r2_mean"][:],
            "latents": [text(x) for x in table["linear/inputs"][:]] if linear else [],
            "linear_r2": table["linear/r2_test"][:] if linear else None,
            "accuracy": table["linear/accuracy_test"][:] if linear else None,
            "chance": table["linear/majority_accuracy"][:] if linear else None,
        }


def linear_values(t, kind, name):
    if not t["latents"]:
        fail(f"--metric {kind}:{name}: the table has no linear probes")
    if name not in t["latents"]:
        fail(f"--metric {kind}:{name}: not a latent of the linear probes ({', '.join(t['latents'])})")
    column = t["latents"].index(name)
    if kind == "linear":
        return t["linear_r2"][:, column], f"R$^2$ of the linear probe from {name}"
    return t["accuracy"][:, column], f"instrument-ID accuracy from {name}"


def mlp_values(t, name, size):
    if name not in t["inputs"]:
        fail(f"--metric {name}: not in the table (probe inputs: {', '.join(t['inputs']) or 'none'}; or wall_seconds)")
    if not t["sizes"]:
        fail("the table has no probe results (no point is done)")
    column = len(t["sizes"]) - 1
    if size is not None:
        if size not in t["sizes"]:
            fail(f"--size {size}: the probe sizes are {', '.join(str(s) for s in t['sizes'])}")
        column = t["sizes"].index(size)
    return t["r2"][:, t["inputs"].index(name), column], t["sizes"][column]


def metric_values(t, metric, size):
    metric, at, n = metric.partition("@")  # NAME@N: at N training objects, whatever --size says
    if at:
        try:
            size = int(n)
        except ValueError:
            fail(f"--metric {metric}@{n}: N must be a training size")
    if metric == "wall_seconds":
        return t["wall"], "wall time (s)"
    if metric == "chance":
        if t["chance"] is None:
            fail("--metric chance: the table has no linear probes")
        return t["chance"], "instrument-ID accuracy of the majority class"
    kind, _, name = metric.partition(":")
    if not name:
        kind, name = "mlp", metric
    if kind in ("linear", "instrument"):
        return linear_values(t, kind, name)
    if kind == "gain":
        values, n = mlp_values(t, name, size)
        baseline, _ = mlp_values(t, "baseline z", size)
        return values - baseline, f"R$^2$({name}) - R$^2$(baseline z), MLP probe ({n} training objects)"
    if kind != "mlp":
        fail(f"--metric {metric}: use NAME, mlp:NAME, gain:NAME, linear:NAME, instrument:NAME, chance or wall_seconds")
    values, n = mlp_values(t, name, size)
    return values, f"R$^2$ of the MLP probe from {name} ({n} training objects)"


def grid_key(t, key, option):
    if key not in t["grid"]:
        fail(f"{option} {key}: not a grid key of this sweep (grid keys: {', '.join(sorted(t['grid']))})")
    values = t["grid"][key]
    if values.dtype.kind in "SO":
        fail(f"{option} {key}: a string key; plot a numeric one")
    return values.astype(float)


def print_table(t, metrics, size):
    """Every done point: its grid values and each metric (rounded to 3 decimals), Markdown."""
    columns = [metric_values(t, m, size)[0] for m in metrics]
    keys = sorted(t["grid"])
    print("| point | " + " | ".join(keys + metrics) + " |")
    print("|" + "---|" * (1 + len(keys) + len(metrics)))
    for k in np.flatnonzero(t["status"] == 2):
        grid = [text(t["grid"][key][k]) if t["grid"][key].dtype.kind in "SO" else f"{t['grid'][key][k]:g}" for key in keys]
        cells = [f"{c[k]:.3f}" for c in columns]
        print(f"| {k} | " + " | ".join(grid + cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("table")
    parser.add_argument("--x", help="grid key on the x axis (e.g. simulate.K)")
    parser.add_argument("--metric", required=True, action="append",
                        help="probe input (z_star, z_instr, raw, z), gain:NAME, ... (several with --print)")
    parser.add_argument("--lines", help="grid key drawn as separate lines")
    parser.add_argument("--size", type=int, help="probe training size (default: the largest)")
    parser.add_argument("--out", help="PNG to write")
    parser.add_argument("--print", action="store_true", help="print a Markdown table of the metrics instead")
    args = parser.parse_args()
    t = read_table(args.table)
    if args.print:
        print_table(t, args.metric, args.size)
        return
    if not args.x or not args.out:
        fail("--x and --out are needed to draw (or give --print)")
    if len(args.metric) > 1:
        fail("draw one --metric at a time (several only with --print)")
    args.metric = args.metric[0]
    x = grid_key(t, args.x, "--x")
    lines = grid_key(t, args.lines, "--lines") if args.lines else np.zeros_like(x)
    values, label = metric_values(t, args.metric, args.size)
    done = (t["status"] == 2) & np.isfinite(values)
    if not done.any():
        fail(f"{args.table}: no point is done yet (see lcfm sweep --collect)")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("needs python3-matplotlib (Debian package)")
    figure, axes = plt.subplots(figsize=(6, 4))
    for line in np.unique(lines[done]):
        chosen = done & (lines == line)
        xs = np.unique(x[chosen])
        means = [values[chosen & (x == v)].mean() for v in xs]
        spread = [values[chosen & (x == v)].std() for v in xs]
        name = f"{args.lines} = {line:g}" if args.lines else None
        axes.errorbar(xs, means, yerr=spread, marker="o", capsize=3, label=name)
    axes.set_xlabel(args.x)
    axes.set_ylabel(label)
    missing = int((~done).sum())
    axes.set_title(f"{args.metric} against {args.x}" + (f" ({missing} point{'s' if missing > 1 else ''} not done)" if missing else ""))
    if args.lines:
        axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    try:
        figure.savefig(args.out, dpi=120)
    except OSError as error:
        fail(f"{args.out}: cannot write: {error}")
    print(args.out)


if __name__ == "__main__":
    main()
