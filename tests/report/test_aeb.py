"""The accuracy-energy balanced score: formula, pick, CSV column and `snnas report --pick aeb`."""

import numpy as np
import pandas as pd
import pytest

from snnas.cli import main
from snnas.errors import RunError
from snnas.report import aeb_scores, pareto_front, pick_aeb
from snnas.runs import objectives_of
from snnas.search import search
from snnas.testing import CONFORMANCE_SPACE, toy_evaluate, write_space


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("aeb")
    f = write_space(tmp / "s.yaml", CONFORMANCE_SPACE)
    return search(f, tmp / "run", strategy="random", budget=12, seed=2, evaluate=toy_evaluate,
                  eval_config={"fail_at": [3]}, quiet=True, argv=["t"])


def test_the_score_is_accuracy_times_relative_energy_to_the_minus_lambda(run):
    scores, e_ref = aeb_scores(run.records, 0.5)
    ok = [r for r in run.records if not r.failed]
    assert 3 not in scores and len(scores) == len(ok)
    assert e_ref == pytest.approx(np.median([r.metrics["energy_mj"] for r in ok]))
    for r in ok:
        want = 100 * r.metrics["accuracy"] * (r.metrics["energy_mj"] / e_ref) ** -0.5
        assert scores[r.index] == pytest.approx(want)
    with pytest.raises(RunError, match="lambda"):
        aeb_scores(run.records, -1.0)


def test_the_pick_is_on_the_front_and_lambda_zero_picks_the_most_accurate(run):
    front = {r.index for r in pareto_front(run.records, objectives_of(None))}
    for lam in (0.0, 0.07, 0.5, 3.0):
        assert pick_aeb(run.records, lam).index in front
    best = max((r for r in run.records if not r.failed), key=lambda r: (r.metrics["accuracy"], -r.index))
    assert pick_aeb(run.records, 0.0).index == best.index
    cheapest = min((r for r in run.records if not r.failed), key=lambda r: r.metrics["energy_mj"])
    assert pick_aeb(run.records, 50.0).index == cheapest.index


def test_csvs_carry_the_column_and_report_prints_the_pick(run, capsys):
    assert main(["report", str(run.run_dir), "--pick", "aeb", "--aeb-lambda", "0.5"]) == 0
    out = capsys.readouterr().out
    picked = pick_aeb(run.records, 0.5)
    assert "pick (aeb, lambda 0.5" in out and f"snnas export {run.run_dir} --id {picked.id}" in out
    scores, _ = aeb_scores(run.records, 0.5)
    for name in ("candidates.csv", "pareto.csv"):
        df = pd.read_csv(run.run_dir / name)
        assert list(df.columns).index("aeb") == list(df.columns).index("architecture") - 1
        for i, v in zip(df["index"], df["aeb"], strict=True):
            assert (np.isnan(v) and i not in scores) or v == pytest.approx(scores[i])
    assert "accuracy-energy balanced pick" in (run.run_dir / "summary.md").read_text()
    assert main(["report", str(run.run_dir), "--aeb-lambda", "-2"]) != 0
    assert "--aeb-lambda must be" in capsys.readouterr().err
