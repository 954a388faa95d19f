import math

import pandas as pd
import pytest

from snnas.errors import RunError
from snnas.report import hypervolume, pareto_front, reference_box, write_reports
from snnas.runs import COMPLETE, FAILED, CandidateRecord, Objective, RunStore
from snnas.space._architecture import Architecture, NeuronSpec

ACC_ENERGY = (Objective("accuracy", "maximize"), Objective("energy_mj", "minimize"))


def arch(i: int) -> Architecture:
    n = NeuronSpec(kind="lif", tau=2.0)
    return Architecture(family="cell", time_steps=4, neurons=(n,), cell=(((0, "conv_3x3"),),),
                        trellis=(0,), stem_channels=8 + i)


def rec(i: int, acc: float | None = None, e: float | None = None, reason: str | None = None, **extra):
    if reason is not None:
        return CandidateRecord(i, arch(i), (i,), FAILED, {}, reason)
    m = {"accuracy": acc, "energy_mj": e, "macs": 1e6 * i, "acs": 2e6 * i, "mean_firing_rate": 0.1,
         "params": 1000 + i, "time_steps": 4, "wall_time_s": 0.5, **extra}
    return CandidateRecord(i, arch(i), (i,), COMPLETE, m)


# hand-made set: (accuracy, energy) -> front is {0, 1, 3, 5}; 5 ties 1 exactly; 2, 4 dominated; 6 failed
HAND = [rec(0, 0.90, 2.0), rec(1, 0.80, 1.0), rec(2, 0.70, 1.5), rec(3, 0.95, 4.0), rec(4, 0.85, 4.0),
        rec(5, 0.80, 1.0), rec(6, reason="RuntimeError: out of memory")]


def test_pareto_rows_are_exactly_the_non_dominated_ones():
    assert [r.index for r in pareto_front(HAND, ACC_ENERGY)] == [0, 1, 3, 5]
    assert pareto_front([HAND[-1]], ACC_ENERGY) == []


def test_hypervolume_matches_a_hand_computed_2d_case():
    # normalised (error, energy / 4): (0.1, 0.5) and (0.2, 0.25); reference (1, 1)
    # area = 0.9*0.5 + 0.8*0.75 - 0.8*0.5 = 0.65
    recs = [rec(0, 0.9, 2.0), rec(1, 0.8, 1.0), rec(2, 0.5, 3.0)]
    hv = hypervolume(recs, ACC_ENERGY, reference={"energy_mj": 4.0})
    assert hv.value == pytest.approx(0.65)
    assert hv.ideal == {"accuracy": 1.0, "energy_mj": 0.0}
    assert hv.reference == {"accuracy": 0.0, "energy_mj": 4.0}
    # default reference: 1.1 x the largest observed energy = 3.3
    expected = 0.9 * (1 - 2 / 3.3) + 0.8 * (1 - 1 / 3.3) - 0.8 * (1 - 2 / 3.3)
    assert hypervolume(recs, ACC_ENERGY).value == pytest.approx(expected)
    assert hypervolume([], ACC_ENERGY).value == 0.0


def test_reference_box_for_unbounded_and_maximised_metrics():
    objs = (Objective("params", "minimize"), Objective("acs", "maximize"))
    ideal, ref = reference_box(HAND, objs)
    assert ref["params"] == pytest.approx(1.1 * 1005) and ideal["params"] == 0.0
    assert ideal["acs"] == pytest.approx(1.1 * 10e6) and ref["acs"] == 0.0
    zero = [rec(0, 0.5, 0.0)]
    assert reference_box(zero, ACC_ENERGY)[1]["energy_mj"] == 1.0  # never an empty box


def test_write_reports_from_a_run_store(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("name: toy\n")
    with RunStore.create(tmp_path / "run", space, {"seed": 3, "strategy": "random", "budget": 7}) as store:
        for r in HAND:
            store.record(r.index, r.arch, r.genome, r.metrics or None, r.reason)
        paths = write_reports(store)
    assert set(paths) == {"pareto_csv", "candidates_csv", "pareto_png", "summary_md"}
    assert all(p.parent == store.path and p.stat().st_size > 0 for p in paths.values())
    cands = pd.read_csv(paths["candidates_csv"], keep_default_na=False)
    assert list(cands["index"]) == list(range(7))
    assert list(cands.columns[:4]) == ["index", "id", "state", "reason"]
    assert {"val_acc_pct", "energy_uj", "macs", "acs", "mean_firing_rate", "params", "time_steps",
            "wall_time_s", "architecture", "genome"} <= set(cands.columns)
    assert "accuracy" not in cands.columns and "energy_mj" not in cands.columns  # one unit, in the name
    done = cands[cands["state"] == "complete"].set_index("index")
    assert float(done.loc[0, "val_acc_pct"]) == pytest.approx(90.0)  # stored 0.90
    assert float(done.loc[0, "energy_uj"]) == pytest.approx(2000.0)  # stored 2.0 mJ
    failed = cands[cands["state"] == "failed"]
    assert list(failed["reason"]) == ["RuntimeError: out of memory"] and failed["val_acc_pct"].iloc[0] == ""
    pareto = pd.read_csv(paths["pareto_csv"])
    assert sorted(pareto["index"]) == [0, 1, 3, 5]
    assert list(pareto["index"])[0] == 3  # best accuracy first
    assert pareto["architecture"].iloc[0] == arch(3).summary() and pareto["id"].iloc[0] == arch(3).id
    assert paths["pareto_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["summary_md"].read_text()
    hv = hypervolume(HAND, ACC_ENERGY).value
    assert f"**{hv:.6f}**" in md and "reference" in md and "1.1 x the largest observed" in md
    assert "Best candidate per objective" in md and '"seed": 3' in md
    assert "| 1 | RuntimeError: out of memory |" in md
    assert "| 3 | `" in md and "95.00 % | 4 mJ |" in md  # accuracy in %, energy human-scaled


def test_energy_is_human_scaled():
    from snnas.report import energy_unit, format_energy

    assert format_energy(9.108e-05) == "91.08 nJ"
    assert format_energy(0.0123) == "12.3 uJ"
    assert format_energy(2.5) == "2.5 mJ"
    assert format_energy(None) == format_energy(math.nan) == "n/a"
    assert energy_unit([1e-4, 2e-4, 5e-3]) == (1e6, "nJ")

def test_reports_without_completed_candidates_still_write_every_file(tmp_path):
    bad = [rec(0, reason="ValueError: bad"), rec(1, reason="ValueError: bad")]
    paths = write_reports(bad, None, tmp_path)
    assert all(p.is_file() for p in paths.values())
    assert "No completed candidates" in paths["summary_md"].read_text()
    assert len(pd.read_csv(paths["candidates_csv"])) == 2
    assert len(pd.read_csv(paths["pareto_csv"])) == 0
    empty = write_reports([], None, tmp_path / "empty")
    assert "0 evaluated" in empty["summary_md"].read_text()
    with pytest.raises(RunError, match="out_dir"):
        write_reports([], None)


def test_three_objectives_and_an_objective_outside_the_standard_columns(tmp_path):
    objs = ["max accuracy", "min energy_mj", "min latency_ms"]
    recs = [rec(0, 0.9, 2.0, latency_ms=5.0), rec(1, 0.8, 1.0, latency_ms=9.0),
            rec(2, 0.7, 3.0, latency_ms=1.0), rec(3, 0.6, 3.0, latency_ms=2.0)]
    paths = write_reports(recs, objs, tmp_path)
    pareto = pd.read_csv(paths["pareto_csv"])
    assert sorted(pareto["index"]) == [0, 1, 2] and "latency_ms" in pareto.columns
    assert not math.isnan(float(paths["summary_md"].read_text().split("**")[1]))


def test_infeasible_candidates_stay_out_of_the_front(tmp_path):
    class Space:
        objectives = [("accuracy", "max"), ("energy_mj", "min")]
        constraints = ["energy_mj <= 3"]

    # candidate 3 (0.95, 4.0) breaks the limit: 4 (0.85, 4.0) too; the front is {0, 1, 5}
    paths = write_reports(HAND, Space(), tmp_path)
    assert sorted(pd.read_csv(paths["pareto_csv"])["index"]) == [0, 1, 5]
    cands = pd.read_csv(paths["candidates_csv"])
    assert list(cands["feasible"]) == [True, True, True, False, False, True, False]
    md = paths["summary_md"].read_text()
    assert "energy_mj <= 3 (2 completed candidate(s) infeasible" in md
    assert "| maximize accuracy | 90.00 % | 0 |" in md  # the best *feasible* accuracy


def test_summary_tables_survive_pipes_in_architecture_summaries(tmp_path):
    n = NeuronSpec()
    two = Architecture(family="cell", time_steps=2, neurons=(n,), cell=(((0, "skip"),), ((1, "conv_3x3"),)),
                       trellis=(0,), stem_channels=8)
    assert "|" in two.summary()
    r = CandidateRecord(0, two, None, COMPLETE, {"accuracy": 0.5, "energy_mj": 1.0})
    md = write_reports([r], None, tmp_path)["summary_md"].read_text()
    rows = [ln for ln in md.splitlines() if ln.startswith("| 0 |")]
    header = next(ln for ln in md.splitlines() if ln.startswith("| index | id |"))
    assert rows and all(ln.replace("\\|", "").count("|") == header.count("|") for ln in rows)
