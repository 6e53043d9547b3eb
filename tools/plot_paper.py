#!/usr/bin/python3
"""plot_paper.py: the causal paper's figures from lcfm's probe (and embedding) stores, as PNG.

  /usr/bin/python3 tools/plot_paper.py --probe P.h5 [--embeddings E.h5] [--store S.h5] --out DIR

Writes, and prints one path per line on stdout:
  DIR/r2_vs_size.png      figure 3: few-shot MLP R^2 (mean +- std over runs) of the target against
                          the training size for each input (raw, baseline z, z_star, z_instr), with
                          the linear probe's R^2 over all training objects as dashed lines and, when
                          the probe has it, the oracle (E[theta_0 | folded frequency]: the best any
                          representation can do) as a dotted black line with its spread shaded
  DIR/map_NAME.png        figure 2: the 2-D PCA map of latent NAME, coloured by instrument and by
                          theta_{s,0}, one file per latent (z_star, z_instr, baseline_z or z)
Inputs: P.h5 is `lcfm probe`'s store (/mlp, /linear, /pca, /objects). E.h5, the embedding store,
is needed only when P.h5 has no /pca (the maps are then computed here with numpy). S.h5, the
light-curve store, gives theta_{s,0} from /truth/theta when the probe's target is not theta0.
A missing or unreadable input ends the program with a one-line message and exit code 1 (2 for
bad usage, 3 when matplotlib is missing). Needs Debian's python3-h5py and python3-matplotlib;
no display (Agg backend).
"""
import argparse
import os
import sys


class InputError(Exception):
    """A missing or unusable input: reported in one line."""


def fail(message, code=1):
    print(f"plot_paper.py: {message}", file=sys.stderr)
    sys.exit(code)


def open_h5(h5py, path, what):
    if not os.path.exists(path):
        raise InputError(f"{path}: no such {what}")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: cannot read as HDF5 ({e})")


def need(f, name, path):
    if name not in f:
        raise InputError(f"{path}: has no {name} (not a complete lcfm probe store?)")
    return f[name][()]


def text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def plot_r2_vs_size(plt, np, probe, path, out):
    inputs = [text(x) for x in need(probe, "mlp/inputs", path)]
    sizes = need(probe, "mlp/sizes", path)
    mean, std = need(probe, "mlp/r2_mean", path), need(probe, "mlp/r2_std", path)
    target = text(probe.attrs.get("target", "target"))
    linear = {}
    if "linear/inputs" in probe:
        for name, r2 in zip(probe["linear/inputs"][()], probe["linear/r2_test"][()]):
            linear[{"baseline_z": "baseline z"}.get(text(name), text(name))] = r2  # the MLP's names
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, name in enumerate(inputs):
        if name == "oracle":  # the ceiling: E[theta_0 | folded frequency], no training
            ax.plot(sizes, mean[i], color="k", linestyle=":", linewidth=1.5, label="oracle (best possible)")
            ax.fill_between(sizes, mean[i] - std[i], mean[i] + std[i], color="k", alpha=0.12, linewidth=0)
            continue
        colour = f"C{i}"
        ax.errorbar(sizes, mean[i], yerr=std[i], marker="o", capsize=3, color=colour, label=name)
        if name in linear and np.isfinite(linear[name]):
            ax.axhline(linear[name], color=colour, linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(int(n)) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training size (light curves)")
    ax.set_ylabel(f"R$^2$ of {target} (test)")
    ax.set_ylim(min(-0.1, float(np.nanmin(mean - std)) if np.isfinite(mean).any() else -0.1), 1.02)
    ax.axhline(0, color="0.6", linewidth=0.8)
    title = "few-shot MLP probe"
    if linear:
        title += " (dashed: linear probe, all training objects)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = os.path.join(out, "r2_vs_size.png")
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


def pca_from_embeddings(np, h5py, embeddings, ids):
    """{name: xy [N, 2]} from the embedding store, rows in the order of the probe's ids."""
    if not embeddings:
        raise InputError("the probe store has no /pca maps; give --embeddings E.h5 to compute them")
    with open_h5(h5py, embeddings, "embedding store") as e:
        own = need(e, "objects/id", embeddings)
        order = np.argsort(own)
        rows = order[np.minimum(np.searchsorted(own[order], ids), len(own) - 1)]
        if not np.array_equal(own[rows], ids):
            raise InputError(f"{embeddings}: does not hold the probe store's objects")
        maps = {}
        for name in ("z_star", "z_instr", "z"):
            if name in e:
                z = e[name][()][rows].astype(np.float64)
                z -= z.mean(0)
                w, v = np.linalg.eigh(z.T @ z / max(len(z) - 1, 1))
                maps[name] = z @ v[:, ::-1][:, :2]
        if not maps:
            raise InputError(f"{embeddings}: has no /z_star, /z_instr or /z")
        return maps


def theta0_colours(np, h5py, probe, path, store):
    """(values, label) for the theta colouring, in the probe's object order."""
    target = text(probe.attrs.get("target", ""))
    if target == "theta0" or not store:
        return need(probe, "objects/target", path), target or "target"
    with open_h5(h5py, store, "light-curve store") as s:
        theta, ids, source = need(s, "truth/theta", store), need(s, "objects/id", store), need(s, "objects/source", store)
        wanted = need(probe, "objects/id", path)
        order = np.argsort(ids)
        rows = order[np.minimum(np.searchsorted(ids[order], wanted), len(ids) - 1)]
        if not np.array_equal(ids[rows], wanted):
            raise InputError(f"{store}: does not hold the probe store's objects")
        return theta[source[rows], 0], "theta0"


def plot_map(plt, ListedColormap, np, name, xy, instrument, theta, theta_label, explained, out):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    order = np.random.default_rng(0).permutation(len(xy))  # no colour painted last on top
    classes = int(instrument.max()) + 1 if len(instrument) else 1
    discrete = plt.get_cmap("tab10" if classes <= 10 else "tab20")
    instrument_map = ListedColormap(discrete.colors[:classes]) if classes <= 20 else plt.get_cmap("nipy_spectral")
    panels = ((instrument, "instrument", instrument_map, -0.5, classes - 0.5),
              (theta, theta_label, plt.get_cmap("viridis"), None, None))
    for ax, (values, label, cmap, lo, hi) in zip(axes, panels):
        sc = ax.scatter(xy[order, 0], xy[order, 1], c=values[order], cmap=cmap, vmin=lo, vmax=hi, s=4, linewidths=0,
                        rasterized=True)
        fig.colorbar(sc, ax=ax, label=label)
        unit = [f" ({100 * e:.0f}% of variance)" for e in explained] if explained is not None else ["", ""]
        ax.set_xlabel("PC 1" + unit[0])
        ax.set_ylabel("PC 2" + unit[1])
        ax.set_title(f"{name} coloured by {label}", fontsize=10)
    fig.tight_layout()
    png = os.path.join(out, f"map_{name}.png")
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


def plot_maps(plt, ListedColormap, np, h5py, probe, path, args):
    ids = need(probe, "objects/id", path)
    instrument = need(probe, "objects/instrument", path)
    theta, theta_label = theta0_colours(np, h5py, probe, path, args.store)
    if "pca/inputs" in probe:
        maps, explained = {}, {}
        for name in (text(x) for x in probe["pca/inputs"][()]):
            maps[name] = need(probe, f"pca/{name}/xy", path)
            explained[name] = need(probe, f"pca/{name}/explained", path)
    else:
        maps, explained = pca_from_embeddings(np, h5py, args.embeddings, ids), {}
    pngs = []
    for name, xy in maps.items():
        if len(xy) != len(ids):
            raise InputError(f"{path}: the map of {name} has {len(xy)} rows for {len(ids)} objects")
        pngs.append(plot_map(plt, ListedColormap, np, name, xy, instrument, theta, theta_label, explained.get(name), args.out))
    return pngs


def main():
    ap = argparse.ArgumentParser(description="The causal paper's figures 2 and 3 from lcfm probe stores.")
    ap.add_argument("--probe", required=True, help="probe store written by `lcfm probe`")
    ap.add_argument("--embeddings", help="embedding store (only needed when the probe store has no /pca)")
    ap.add_argument("--store", help="light-curve store (theta_{s,0} when the probe's target is another)")
    ap.add_argument("--out", required=True, help="directory for the PNG files (created)")
    args = ap.parse_args()
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        fail(f"needs python3-h5py and numpy ({e})", 3)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap
    except ImportError:
        fail("matplotlib is not installed (Debian: apt-get install python3-matplotlib)", 3)
    try:
        for optional, what in ((args.embeddings, "embedding store"), (args.store, "light-curve store")):
            if optional and not os.path.exists(optional):
                raise InputError(f"{optional}: no such {what}")
        with open_h5(h5py, args.probe, "probe store") as probe:
            schema = text(probe.attrs.get("schema", ""))
            if schema != "lcfm-probe":
                raise InputError(f"{args.probe}: not an lcfm probe store (schema '{schema}')")
            try:
                os.makedirs(args.out, exist_ok=True)
            except OSError as e:
                raise InputError(f"{args.out}: cannot create the output directory ({e.strerror})")
            pngs = [plot_r2_vs_size(plt, np, probe, args.probe, args.out)]
            pngs += plot_maps(plt, ListedColormap, np, h5py, probe, args.probe, args)
    except InputError as e:
        fail(str(e))
    except (OSError, KeyError, ValueError, IndexError) as e:
        fail(f"unreadable input or unwritable output ({type(e).__name__}: {e})")
    for png in pngs:
        print(png)


if __name__ == "__main__":
    main()
