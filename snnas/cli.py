"""The ``snnas`` command: parses arguments and calls the packages; holds no logic of its own.

User mistakes raise ``SnnasError`` somewhere below; they are printed here as one line on stderr with
exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from snnas._version import __version__
from snnas.errors import SnnasError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snnas", description="Neural architecture search for spiking networks.")
    p.add_argument("--version", action="version", version=f"snnas {__version__}")
    p.add_argument("--hardware-config", action="append", default=[], metavar="FILE",
                   help="YAML file of extra hardware profiles (profiles: [{name, e_mac_pj, e_ac_pj}]); "
                        "also read from $SNNAS_HARDWARE")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    hw = sub.add_parser("hardware", help="energy hardware profiles")
    hw_sub = hw.add_subparsers(dest="hw_command", metavar="ACTION")
    hw_sub.add_parser("list", help="list the hardware profiles (pJ per MAC and per AC)")

    ev = sub.add_parser("evaluate", help="train the baseline spiking CNN on digits and print its metrics")
    ev.add_argument("--epochs", type=int, default=20)
    ev.add_argument("--time-steps", type=int, default=4)
    ev.add_argument("--neuron", default="lif", help="neuron kind (if, lif, plif, psn, ann)")
    ev.add_argument("--surrogate", default="sigmoid", help="surrogate gradient name")
    ev.add_argument("--hardware", default="45nm-fp32", help="hardware profile for energy")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", help="also write the metrics table as markdown to this file")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    sp = sub.add_parser("space", help="validate, show and sample search-space files")
    sp_sub = sp.add_subparsers(dest="space_command", metavar="ACTION")
    sp_val = sp_sub.add_parser("validate", help="check one or more search-space files")
    sp_val.add_argument("files", nargs="+")
    sp_show = sp_sub.add_parser("show", help="decisions, size and an example architecture")
    sp_show.add_argument("file")
    sp_show.add_argument("--seed", type=int, default=0)
    sp_smp = sp_sub.add_parser("sample", help="build N random architectures (and optionally train them)")
    sp_smp.add_argument("file")
    sp_smp.add_argument("-n", type=int, default=5)
    sp_smp.add_argument("--seed", type=int, default=0)
    sp_smp.add_argument("--evaluate", action="store_true", help="train each briefly on the embedded data")
    sp_smp.add_argument("--epochs", type=int, default=None, help="training epochs with --evaluate")
    sp_smp.add_argument("-q", "--quiet", action="store_true")

    se = sub.add_parser("search", help="run (or resume) an architecture search")
    se.add_argument("--space", help="search-space YAML file")
    se.add_argument("--strategy", help="search strategy (default: the space's search.strategy)")
    se.add_argument("--budget", type=int, help="number of candidates (default: the space's)")
    se.add_argument("--seed", type=int, help="run seed (default: the space's search.seed)")
    se.add_argument("--workers", type=int, help="parallel evaluations (>1 starts a local Ray; default 1)")
    se.add_argument("--threads", type=int, default=1,
                    help="torch threads per candidate, fixed per run so results never depend on it (default 1)")
    se.add_argument("--address", help="join an existing Ray cluster at this address")
    se.add_argument("--out", help="run directory (default runs/<space>-<timestamp>)")
    se.add_argument("--proxy-epochs", type=int, help="training epochs per candidate")
    se.add_argument("--batch-size", type=int)
    se.add_argument("--data-root", help="folder holding the dataset (cifar/events)")
    se.add_argument("--resume", metavar="RUN", help="continue an interrupted run directory")
    se.add_argument("--list-strategies", action="store_true", help="list the search strategies and exit")
    se.add_argument("-q", "--quiet", action="store_true")

    rp = sub.add_parser("report", help="(re)write pareto.csv, candidates.csv, pareto.png, summary.md")
    rp.add_argument("run")

    ex = sub.add_parser("export", help="write a standalone model.py + weights.pt for one candidate")
    ex.add_argument("run")
    ex.add_argument("--id", required=True, help="candidate id (see candidates.csv)")
    ex.add_argument("--out", help="output folder (default RUN/export/<id>)")
    ex.add_argument("--weights", help="weights file to export (default: the candidate's best retrained)")

    tr = sub.add_parser("train", help="retrain one candidate from scratch with the full recipe")
    tr.add_argument("run")
    tr.add_argument("--id", required=True)
    tr.add_argument("--epochs", type=int, default=20)
    tr.add_argument("--seeds", type=int, default=1)
    tr.add_argument("--workers", type=int, default=1)
    tr.add_argument("--address")
    tr.add_argument("-q", "--quiet", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from snnas import _commands
    from snnas._runtime import tune_allocator

    tune_allocator()
    try:
        if args.hardware_config:
            from snnas.evaluate import use_hardware_files

            use_hardware_files(args.hardware_config)
        return int(_commands.dispatch(args) or 0)
    except SnnasError as e:
        print(f"snnas: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("snnas: interrupted; everything recorded so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
