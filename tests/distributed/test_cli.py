"""``latentfactors fit --dask local:2``: the command line trains on a real LocalCluster."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

import latentfactors as lf
from latentfactors.cli import main

pytest.importorskip("distributed")


def test_fit_on_a_local_dask_cluster_matches_the_single_machine_fit(ml100k_path, tmp_path):
    df = pd.read_csv(ml100k_path / "u.data", sep="\t", names=["user", "item", "rating", "ts"])
    df.to_parquet(tmp_path / "ratings.parquet")
    runner = CliRunner()
    args = ["--model", "als", "--epochs", "2", "--factors", "8", "--seed", "0"]
    res = runner.invoke(main, ["fit", str(tmp_path / "ratings.parquet"), "--dask", "local:2",
                               *args, "-o", str(tmp_path / "dask.lfm")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Dask dashboard: http://127.0.0.1" in res.output and "trained on Dask" in res.output
    res = runner.invoke(main, ["fit", str(tmp_path / "ratings.parquet"), *args,
                               "-o", str(tmp_path / "one.lfm")])  # fmt: skip
    assert res.exit_code == 0, res.output
    dask, one = lf.load(tmp_path / "dask.lfm"), lf.load(tmp_path / "one.lfm")
    assert dask.user_items_ is None
    assert dask.predict([1, 2], [50, 172]) == pytest.approx(one.predict([1, 2], [50, 172]),
                                                            abs=1e-4)  # fmt: skip
    res = runner.invoke(main, ["recommend", str(tmp_path / "dask.lfm"), "--user", "1"])
    assert res.exit_code == 2 and "pass --include-seen" in res.output
    res = runner.invoke(main, ["recommend", str(tmp_path / "dask.lfm"), "--user", "1",
                               "--include-seen", "-n", "3"])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["fit", str(tmp_path / "ratings.parquet"), "--dask", "local:2",
                               "--model", "bpr", "-o", str(tmp_path / "x.lfm")])  # fmt: skip
    assert res.exit_code == 2 and "--dask trains als, implicit-als and svd" in res.output


def test_threads_with_dask_is_refused_before_any_cluster_starts(ml100k_path, tmp_path):
    out = str(tmp_path / "x.lfm")
    res = CliRunner().invoke(main, ["fit", str(ml100k_path / "u.data"), "--dask", "local:2",
                                    "--model", "als", "--threads", "2", "-o", out])  # fmt: skip
    assert res.exit_code == 2
    assert "--threads is not used with --dask" in res.output and "--nthreads N" in res.output


def test_implicit_als_with_its_default_reg_search_on_dask(ml100k_path, tmp_path):
    """`fit --dask --model implicit-als` with no --reg: reg="auto" is searched on the
    cluster, and the saved model records the choice as the single-machine fit does."""
    df = pd.read_csv(ml100k_path / "u.data", sep="\t", names=["user", "item", "rating", "ts"])
    df.drop(columns=["rating", "ts"]).to_parquet(tmp_path / "plays.parquet")
    runner = CliRunner()
    args = ["--model", "implicit-als", "--epochs", "2", "--factors", "8", "--seed", "0",
            "--implicit"]  # fmt: skip
    res = runner.invoke(main, ["fit", str(tmp_path / "plays.parquet"), "--dask", "local:2",
                               *args, "-o", str(tmp_path / "dask.lfm")])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["fit", str(tmp_path / "plays.parquet"), *args,
                               "-o", str(tmp_path / "one.lfm")])  # fmt: skip
    assert res.exit_code == 0, res.output
    dask, one = lf.load(tmp_path / "dask.lfm"), lf.load(tmp_path / "one.lfm")
    assert dask.get_params()["reg"] == "auto"
    assert dask.reg_search_["validation_users"] == one.reg_search_["validation_users"] > 0
    assert dask.reg_ == one.reg_
    assert dask.predict([1, 2], [50, 172]) == pytest.approx(one.predict([1, 2], [50, 172]),
                                                            abs=1e-4)  # fmt: skip
