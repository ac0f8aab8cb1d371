"""The command line through its real entry point (click's runner, and one subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from latentfactors import load
from latentfactors.cli import main


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    from latentfactors.data import make_synthetic

    df = make_synthetic(120, 60, 2000, seed=0).interactions.to_dataframe()
    path = tmp_path_factory.mktemp("cli") / "ratings.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def svd_file(runner, ratings_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "svd.lfm"
    res = runner.invoke(main, ["fit", str(ratings_csv), "--model", "svd", "--factors", "8",
                               "--epochs", "5", "-o", str(out), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["model"] == "SVD" and summary["params"]["n_factors"] == 8
    return out


def test_help_lists_commands_and_examples(runner):
    res = runner.invoke(main, ["--help"])
    assert res.exit_code == 0
    for cmd in ("quickstart", "fit", "recommend", "similar", "explain", "predict", "info"):
        assert cmd in res.output
    assert "Exit codes" in res.output
    fit_help = runner.invoke(main, ["fit", "--help"])
    assert "Examples:" in fit_help.output


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "latentfactors.cli", "--version"],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0 and "version" in out.stdout


def test_info_predict_recommend_similar_explain(runner, svd_file):
    res = runner.invoke(main, ["info", str(svd_file), "--json"])
    info = json.loads(res.output)
    assert info["model"] == "SVD" and info["n_factors"] == 8
    res = runner.invoke(main, ["predict", str(svd_file), "--user", "0", "--item", "1", "--json"])
    pred = json.loads(res.output)
    assert 1 <= pred["prediction"] <= 5 and pred["fallback"] is False
    res = runner.invoke(main, ["predict", str(svd_file), "--user", "nobody", "--item", "1"])
    assert res.exit_code == 0 and "fallback" in res.output
    res = runner.invoke(main, ["recommend", str(svd_file), "--user", "0", "-n", "5", "--json"])
    recs = json.loads(res.output)["items"]
    assert len(recs) == 5 and recs[0]["score"] >= recs[-1]["score"]
    res = runner.invoke(main, ["similar", str(svd_file), "--item", "1", "-n", "3"])
    assert res.exit_code == 0 and "most similar to" in res.output
    res = runner.invoke(main, ["explain", str(svd_file), "--user", "0", "--item", "1", "--json"])
    exp = json.loads(res.output)
    assert {p["kind"] for p in exp["parts"]} <= {"baseline", "factor"}


def test_recommend_for_a_new_user(runner, svd_file, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("item,rating\n1,5\n2,4\n3,1\n")
    res = runner.invoke(main, ["recommend", str(svd_file), "--user", "newbie",
                               "--new-user-ratings", str(mine), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    items = [r["item"] for r in json.loads(res.output)["items"]]
    assert len(items) == 10 and not {1, 2, 3} & set(items)


def test_unknown_user_is_one_clear_line(runner, svd_file):
    res = runner.invoke(main, ["recommend", str(svd_file), "--user", "nobody"])
    assert res.exit_code == 3
    assert "UnknownIdError: user 'nobody' is not known" in res.output
    assert "fold_in" in res.output and "Traceback" not in res.output


def test_missing_and_bad_files(runner, tmp_path, ratings_csv):
    res = runner.invoke(main, ["info", str(tmp_path / "nope.lfm")])
    assert res.exit_code == 4 and "no such model file" in res.output
    junk = tmp_path / "junk.lfm"
    junk.write_text("not a model")
    res = runner.invoke(main, ["info", str(junk)])
    assert res.exit_code == 4 and "not a latentfactors model file" in res.output
    res = runner.invoke(main, ["fit", str(tmp_path / "none.csv"), "-o", str(tmp_path / "m")])
    assert res.exit_code == 3 and "no such file or folder" in res.output


def test_wrong_separator_is_reported(runner, ratings_csv, tmp_path):
    res = runner.invoke(main, ["fit", str(ratings_csv), "--sep", "\t", "-o", str(tmp_path / "m")])
    assert res.exit_code == 3
    assert "every line has one field" in res.output and "sep=','" in res.output


def test_bad_parameter_and_usage(runner, ratings_csv, tmp_path):
    res = runner.invoke(
        main, ["fit", str(ratings_csv), "--factors", "0", "-o", str(tmp_path / "m")]
    )
    assert res.exit_code == 3 and "n_factors=0 is invalid" in res.output
    res = runner.invoke(main, ["fit", str(ratings_csv), "--model", "nope", "-o", "x"])
    assert res.exit_code == 2
    res = runner.invoke(main, ["--debug", "fit", str(ratings_csv), "--factors", "0", "-o", "x"])
    assert isinstance(res.exception, Exception) and res.exit_code != 0


def test_fit_formats_and_models(runner, tmp_path):
    dat = tmp_path / "ratings.dat"
    lines = [f"{u}::{i}::{(u * i) % 5 + 1}::97830{u}{i}"
             for u in range(1, 30) for i in range(1, 20) if (u + i) % 3]  # fmt: skip
    dat.write_text("\n".join(lines))
    out = tmp_path / "m.lfm"
    res = runner.invoke(main, ["fit", str(dat), "--names", "user,item,rating,timestamp",
                               "--no-header", "--model", "als", "--factors", "4", "--set",
                               "weighted=false", "-o", str(out), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["params"]["weighted"] is False
    res = runner.invoke(main, ["fit", str(dat), "--names", "user,item,rating,timestamp",
                               "--no-header", "--model", "implicit-als", "--implicit",
                               "--factors", "4", "-o", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    # the reg="auto" search runs before the first epoch: its lines come as they are made
    assert "ImplicitALS reg search: reg=10, NDCG@10 0." in res.output
    assert "ImplicitALS reg search: chose reg=" in res.output
    res = runner.invoke(main, ["recommend", str(out), "--user", "1", "-n", "3"])
    assert res.exit_code == 0 and "top 3 for user 1" in res.output
    # BPR searches when asked to (--set reg=auto), and says so the same way
    res = runner.invoke(main, ["fit", str(dat), "--names", "user,item,rating,timestamp",
                               "--no-header", "--model", "bpr", "--implicit", "--factors", "4",
                               "--epochs", "3", "--set", "reg=auto", "-o", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "BPR reg search: reg=0.5, NDCG@10 0." in res.output
    assert "BPR reg search: chose reg=" in res.output
    fitted = load(out)
    assert fitted.reg == "auto" and fitted.reg_ == fitted.reg_search_["chosen"]


def test_quickstart_end_to_end_on_movielens(runner, ml100k_path, tmp_path):
    out_dir = tmp_path / "qs"
    res = runner.invoke(main, ["quickstart", "--data", str(ml100k_path), "--out", str(out_dir),
                               "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["data"].startswith("MovieLens 100K")
    assert out["held_out"]["svd_rmse"] < 0.93
    assert out["held_out"]["als_ndcg@10"] > 0.35
    # and both beat their floors: biases alone, and the most popular unseen items
    assert out["held_out"]["baseline_rmse"] > out["held_out"]["svd_rmse"] + 0.02
    assert out["held_out"]["popularity_ndcg@10"] < out["held_out"]["als_ndcg@10"] - 0.1
    assert len(out["sample_user"]["recommendations"]) == 10
    assert out["similar"]["title"] == "Star Wars (1977)"
    assert "Empire Strikes Back, The (1980)" in [n["title"] for n in out["similar"]["neighbours"]]
    assert len(out["factors"]) == 3 and "genres" in out["factors"][0]
    assert (out_dir / "svd.lfm").is_file() and (out_dir / "implicit-als.lfm").is_file()
    assert out["seconds"] < 60
    res = runner.invoke(main, ["similar", str(out_dir / "svd.lfm"), "--item", "50", "-n", "3"])
    assert "Star Wars (1977)" in res.output and "Empire Strikes Back" in res.output
    res = runner.invoke(main, ["similar", str(out_dir / "svd.lfm"), "--item", "50", "-n", "50",
                               "--min-count", "20", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "unknown" not in [n["title"] for n in json.loads(res.output)["similar"]]
    assert all(n["title"] != "unknown" for n in out["similar"]["neighbours"])


def test_quickstart_without_data_runs_on_labelled_synthetic(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LATENTFACTORS_DATA", str(tmp_path / "empty"))
    res = runner.invoke(main, ["quickstart", "--no-download", "--out", "qs", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["data"].startswith("SYNTHETIC data") and "no MovieLens 100K found" in out["data"]
    held = out["held_out"]  # the fallback's models clear their floors
    assert held["als_ndcg@10"] > held["popularity_ndcg@10"] * 1.03
    assert held["svd_rmse"] < held["baseline_rmse"] - 0.05


def test_evaluate_cv_and_tune(runner, svd_file, ratings_csv, tmp_path):
    res = runner.invoke(main, ["evaluate", str(svd_file), str(ratings_csv), "--metric", "rmse",
                               "--metric", "ndcg@5", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["rmse"] > 0 and 0 <= out["ndcg@5"] <= 1 and out["n_skipped_rows"] == 0
    res = runner.invoke(main, ["cv", str(ratings_csv), "--model", "baseline", "--folds", "3",
                               "--metric", "rmse", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    cv = json.loads(res.output)
    assert len(cv["folds"]) == 3 and "rmse" in cv["mean"]
    best = tmp_path / "best.lfm"
    res = runner.invoke(main, ["tune", str(ratings_csv), "--model", "svd", "--epochs", "5",
                               "--grid", "n_factors=2,4", "--grid", "reg=0.02,0.1", "-o",
                               str(best), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    tuned = json.loads(res.output)
    assert len(tuned["results"]) == 4 and best.is_file()
    res = runner.invoke(main, ["tune", str(ratings_csv), "--model", "svd", "--epochs", "5",
                               "--factor-sweep", "1,4,16"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "factor sweep (rmse)" in res.output and "best:" in res.output
    res = runner.invoke(main, ["tune", str(ratings_csv)])
    assert res.exit_code == 2 and "--grid" in res.output


def test_readme_console_commands_run(runner, tmp_path, monkeypatch, data_dir):
    """Every `$ latentfactors ...` line of the README runs, with the output it shows."""
    import re
    import shlex
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    block = re.search(r"```console\n(.*?)```", text, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.csv").write_text("item,rating\n50,5\n172,5\n181,5\n1,2\n")
    shared = str(root.parent / "shared" / "data")
    commands = 0
    for chunk in re.split(r"\n(?=\$ )", block.strip()):
        lines = chunk.splitlines()
        if not lines[0].startswith("$ latentfactors "):
            continue
        args = shlex.split(lines[0][len("$ latentfactors ") :].replace("../shared/data", shared))
        res = runner.invoke(main, args)
        shown = [ln for ln in lines[1:] if ln.strip()]
        expect_error = any(ln.startswith("error:") for ln in shown)
        assert (res.exit_code != 0) == expect_error, (args, res.output)
        # the first line of output, and every table row's item and title the README shows
        output = " ".join(res.output.split())
        assert shown[0].split("━")[0].strip()[:30] in output, (args, shown[0], res.output)
        for ln in shown:
            cells = [c.strip() for c in ln.split("│")]
            if len(cells) >= 3 and cells[0].isdigit():
                assert f"{cells[1]} │ {cells[2]}"[:40] in output, (args, ln, res.output)
        commands += 1
    assert commands >= 5
