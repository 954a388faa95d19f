"""The ``snnas`` command: parses arguments and calls the packages; holds no logic of its own.

User mistakes raise ``SnnasError`` somewhere below; they are printed here as one line on stderr with
exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from snnas._version import __version__
from snnas.errors import SnnasError


class _Help(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default (unless it says it or there is none); descriptions
    keep their line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: {action.default})"


def _sub(sub, name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=description or help, formatter_class=_Help)


def _quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snnas", description="Neural architecture search for spiking networks.",
                                formatter_class=_Help)
    p.add_argument("--version", action="version", version=f"snnas {__version__}")
    p.add_argument("--hardware-config", action="append", default=[], metavar="FILE",
                   help="YAML file of extra hardware profiles (profiles: [{name, e_mac_pj, e_ac_pj}]); "
                        "repeatable; also read from $SNNAS_HARDWARE")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    hw = _sub(sub, "hardware", "energy hardware profiles")
    hw_sub = hw.add_subparsers(dest="hw_command", metavar="ACTION")
    _sub(hw_sub, "list", "list the hardware profiles (pJ per MAC and per AC)")

    ev = _sub(sub, "evaluate", "train the baseline spiking CNN on digits and print its metrics")
    ev.add_argument("--epochs", type=int, default=20, help="training epochs")
    ev.add_argument("--time-steps", type=int, default=4, help="simulation time steps T")
    ev.add_argument("--neuron", default="lif", help="neuron kind (if, lif, plif, psn, ann)")
    ev.add_argument("--surrogate", default="sigmoid", help="surrogate gradient name")
    ev.add_argument("--hardware", default="45nm-fp32", help="hardware profile for energy")
    ev.add_argument("--seed", type=int, default=0, help="training seed")
    ev.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    ev.add_argument("--out", help="also write the metrics table as markdown to this file")
    _quiet(ev)

    sp = _sub(sub, "space", "validate, show and sample search-space files")
    sp_sub = sp.add_subparsers(dest="space_command", metavar="ACTION")
    sp_val = _sub(sp_sub, "validate", "check one or more search-space files")
    sp_val.add_argument("files", nargs="+", help="search-space YAML files")
    sp_show = _sub(sp_sub, "show", "decisions, size and an example architecture")
    sp_show.add_argument("file", help="search-space YAML file (or a shipped space's name)")
    sp_show.add_argument("--seed", type=int, default=0, help="seed of the example architecture")
    sp_smp = _sub(sp_sub, "sample", "build N random architectures (and optionally train them)")
    sp_smp.add_argument("file", help="search-space YAML file (or a shipped space's name)")
    sp_smp.add_argument("-n", type=int, default=5, help="number of architectures")
    sp_smp.add_argument("--seed", type=int, default=0, help="sampling seed")
    sp_smp.add_argument("--evaluate", action="store_true", help="train each briefly (the space's proxy recipe)")
    sp_smp.add_argument("--epochs", type=int, default=None, help="training epochs with --evaluate "
                        "(default: the space's search.proxy_epochs)")
    _quiet(sp_smp)

    se = _sub(sub, "search", "run (or resume) an architecture search",
              "Run an architecture search (or resume one), then its final stage: the front's top-k\n"
              "retrained from scratch. Unset options take the space's `search:` keys.")
    se.add_argument("--space", help="search-space YAML file (or a shipped space's name)")
    se.add_argument("--strategy", help="search strategy (default: the space's search.strategy); "
                    "see --list-strategies")
    se.add_argument("--budget", type=int, help="candidates to evaluate (default: the space's search.budget; "
                    "for dhs the "
                    "derived candidates, one per energy_lambda every derive_every supernet epochs); "
                    "with --resume, a larger budget extends the run")
    se.add_argument("--seed", type=int, help="run seed (default: the space's search.seed)")
    se.add_argument("--lambda", dest="energy_lambda", type=float, nargs="+", metavar="L",
                    help="dhs: energy weight(s) of the supernet's arch loss CE + L * E/E_ref, one supernet "
                    "per value (default: the space's search.energy_lambda, else 0 0.3 1)")
    se.add_argument("--population", type=int, help="evolution: candidates per generation (default: the "
                    "space's search.population, else 8)")
    se.add_argument("--generations", type=int, help="evolution: generations; the budget becomes population x "
                    "generations (default: the space's search.generations, else --budget)")
    se.add_argument("--prescreen", type=int, metavar="K", help="evolution: breed K x population children "
                    "per generation and evaluate the population a surrogate ranks best (default: the "
                    "space's search.prescreen, else 1 = off)")
    se.add_argument("--scoring", choices=["auto", "oneshot", "proxy"], help="evolution: candidates inherit a "
                    "trained supernet's weights (oneshot) or train from scratch (proxy); default: the space's "
                    "search.scoring, else auto = oneshot for transformer spaces, proxy for cells")
    se.add_argument("--workers", type=int, help="parallel evaluations; > 1 starts a local Ray (default 1)")
    se.add_argument("--threads", type=int, default=1,
                    help="torch threads per candidate, fixed per run so results never depend on it")
    se.add_argument("--address", help="join an existing Ray cluster at this address (e.g. 10.0.0.1:6379)")
    se.add_argument("--device", help="auto | cpu | cuda | cuda:N for training, evaluation and retraining "
                    "(default: the space's search.device, else auto)")
    se.add_argument("--gpus-per-worker", type=float, help="GPUs each Ray task reserves on cuda; fractions let "
                    "several candidates share a GPU (default 1/workers on one machine)")
    se.add_argument("--out", help="run directory (default runs/<space>-<timestamp>)")
    se.add_argument("--proxy-epochs", type=int, help="training epochs per candidate (default: the space's "
                    "search.proxy_epochs)")
    se.add_argument("--batch-size", type=int, help="training batch size (default: the space's search.batch_size)")
    se.add_argument("--data-root", help="folder holding the dataset for cifar10/cifar100/events "
                    "(default: $SNNAS_DATA, else ./data)")
    se.add_argument("--bench-root", metavar="DIR", help="score candidates from a SpikeNAS-Bench table "
                    "(DIR/<id>/train_process.txt, e.g. SpikeNAS-Bench's data/CIFAR10) instead of training them; "
                    "no data set is loaded and the final stage is off (space: spikenas_bench_cifar10)")
    se.add_argument("--bench-epoch", type=int, metavar="N", help="with --bench-root: score the validation "
                    "accuracy after N epochs (the fidelity; default: the last epoch of each entry)")
    se.add_argument("--final-top-k", type=int, help="front candidates retrained after the search; 0 turns the "
                    "final stage off (default: the space's search.final_top_k, else 3)")
    se.add_argument("--final-pick", choices=["first", "spread"], help="which front candidates the final stage "
                    "retrains: the best by the first objective, or spread along the front (default: the space's "
                    "search.final_pick, else first)")
    se.add_argument("--final-epochs", type=int, help="epochs of each final retraining (default: the space's "
                    "search.final_epochs, else 20)")
    se.add_argument("--final-lr", type=float, help="learning rate of the final retraining (default: the "
                    "space's search.final_lr, else search.lr)")
    se.add_argument("--final-seeds", type=int, help="seeds per retrained candidate (default: the space's "
                    "search.final_seeds, else 2)")
    se.add_argument("--resume", metavar="RUN", help="continue a run directory (interrupted or finished)")
    se.add_argument("--list-strategies", action="store_true", help="list the search strategies and exit")
    _quiet(se)

    rp = _sub(sub, "report", "(re)write pareto.csv, candidates.csv, pareto.png, summary.md of a run")
    rp.add_argument("run", help="run directory")
    rp.add_argument("--pick", choices=["aeb"], help="also print one network: aeb = the highest accuracy-energy "
                    "balanced score, accuracy_pct x (E / E_ref)^-lambda (E_ref: the run's median energy)")
    rp.add_argument("--aeb-lambda", type=float, help="trade-off lambda of the aeb score, >= 0 (default: the "
                    "space's search.aeb_lambda, else 0.07); 0 picks the most accurate")

    ex = _sub(sub, "export", "write a standalone model.py + weights.pt for one candidate")
    ex.add_argument("run", help="run directory")
    ex.add_argument("--id", required=True, help="candidate id or a unique prefix (see pareto.csv / pareto.png)")
    ex.add_argument("--out", help="output folder (default RUN/export/<id>)")
    ex.add_argument("--weights", help="weights file to export (default: the best retrained seed, else the "
                    "search's proxy-trained weights)")

    tr = _sub(sub, "train", "retrain one candidate from scratch with the full recipe, on the test split")
    tr.add_argument("run", help="run directory")
    tr.add_argument("--id", required=True, help="candidate id or a unique prefix (see pareto.csv)")
    tr.add_argument("--epochs", type=int, default=20, help="training epochs")
    tr.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (test accuracy is their mean and std)")
    tr.add_argument("--workers", type=int, default=1, help="seeds trained in parallel; > 1 starts a local Ray")
    tr.add_argument("--address", help="join an existing Ray cluster at this address")
    _quiet(tr)
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
        if args.hardware_config or os.environ.get("SNNAS_HARDWARE"):
            # the space validates hardware names from registered profiles; importing snnas.evaluate
            # registers those of $SNNAS_HARDWARE, even for commands that never train
            from snnas.evaluate import use_hardware_files

            use_hardware_files(args.hardware_config)
        return int(_commands.dispatch(args) or 0)
    except SnnasError as e:
        print(f"snnas: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # commands that hold a run say what is kept (see _commands._interruptible)
        print("snnas: interrupted; everything recorded so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
