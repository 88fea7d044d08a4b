"""load_runs: every class of bad input gets a specific DataError; derived columns are right."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.data import drop_top_loss, file_sha256, runs_sha256


def frame(**over):
    base = {"N": [1e8, 2e8, 4e8, 8e8], "D": [2e9, 4e9, 8e9, 1.6e10], "loss": [3.2, 3.0, 2.8, 2.7]}
    base.update(over)
    return pd.DataFrame(base)


def write(tmp_path, text, name="runs.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_fills_compute_from_n_and_d():
    runs = bs.load_runs(frame())
    np.testing.assert_allclose(runs["C"], 6 * runs["N"] * runs["D"])
    assert list(runs.columns[:4]) == ["N", "D", "C", "loss"]


def test_fills_tokens_from_compute_with_configurable_factor():
    df = frame().drop(columns="D").assign(C=[1.2e18, 4.8e18, 1.92e19, 7.68e19])
    runs = bs.load_runs(df, flops_per_param_token=8.0)
    np.testing.assert_allclose(runs["D"], df["C"] / (8.0 * df["N"]))


def test_column_mapping_and_extra_columns_kept():
    df = frame().rename(columns={"N": "params", "loss": "val_loss"}).assign(note=list("abcd"))
    runs = bs.load_runs(df, columns={"N": "params", "loss": "val_loss"})
    assert {"N", "D", "C", "loss", "note"} <= set(runs.columns)


def test_csv_source_records_hash(tmp_path):
    p = tmp_path / "r.csv"
    frame().to_csv(p, index=False)
    runs = bs.load_runs(p)
    assert runs.attrs["sha256"] == file_sha256(p)
    assert runs_sha256(runs) == runs_sha256(bs.load_runs(frame()))


@pytest.mark.parametrize("col", ["N", "loss"])
def test_missing_column(col):
    with pytest.raises(bs.DataError, match=f"missing column.*'{col}'"):
        bs.load_runs(frame().drop(columns=col))


@pytest.mark.parametrize(
    "names, hinted",
    [
        (
            {"N": "params", "D": "tokens", "loss": "val_loss"},
            ["N=params", "D=tokens", "loss=val_loss"],
        ),
        ({"loss": "Loss"}, ["loss=Loss"]),  # another case: named, not silently taken
        ({"N": "n_parameters"}, ["N=n_parameters"]),  # a close spelling
    ],
)
def test_missing_column_names_the_likely_source(names, hinted):
    with pytest.raises(bs.DataError) as exc:
        bs.load_runs(frame().rename(columns=names))
    message = str(exc.value)
    assert all(f"'{k}" in message.split(";")[0] for k in names)  # the missing names
    for h in hinted:
        assert f"--column {h}" in message
    runs = bs.load_runs(frame().rename(columns=names), columns={k: v for k, v in names.items()})
    pd.testing.assert_frame_equal(
        runs[["N", "D", "loss"]], bs.load_runs(frame())[["N", "D", "loss"]]
    )


def test_column_mapping_errors_name_the_problem():
    with pytest.raises(bs.DataError, match=r"unknown name\(s\) \['params'\]"):
        bs.load_runs(frame(), columns={"params": "N"})
    with pytest.raises(bs.DataError, match=r"\['size'\] named in columns= not found"):
        bs.load_runs(frame(), columns={"N": "size"})
    with pytest.raises(bs.DataError, match="to more than one name"):
        bs.load_runs(frame(), columns={"N": "D", "C": "D"})


def test_losses_in_bits_are_converted_once_and_recorded():
    runs = bs.load_runs(frame(), loss_unit="bits")
    np.testing.assert_allclose(runs["loss"], frame()["loss"] * np.log(2))
    assert runs.attrs["converted_from"] == "bits" and runs.attrs["loss_unit"] == "nats"
    again = bs.load_runs(runs)  # a loaded table is not converted a second time
    np.testing.assert_allclose(again["loss"], runs["loss"])
    with pytest.raises(bs.DataError, match="loss_unit must be one of"):
        bs.load_runs(frame(), loss_unit="nat")


@pytest.mark.parametrize(
    "table, unit, warned",
    [
        (frame().rename(columns={"loss": "val_bpb"}), None, "looks like bits"),
        (frame().rename(columns={"loss": "val_bpb"}), "nats", None),  # confirmed: no warning
        (frame().assign(loss=lambda f: 100 * f["loss"] / 4), None, "perplexity or a percentage"),
        (frame(), None, None),
    ],
)
def test_losses_in_another_unit_are_pointed_out(table, unit, warned):
    columns = {"loss": "val_bpb"} if "val_bpb" in table.columns else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bs.load_runs(table, columns=columns, loss_unit=unit)
    messages = [str(w.message) for w in caught if issubclass(w.category, bs.DataWarning)]
    if warned is None:
        assert not messages
    else:
        assert len(messages) == 1 and warned in messages[0]


def test_k_and_derived_columns_are_recorded():
    df = frame().drop(columns="D").assign(C=[1.2e18, 4.8e18, 1.92e19, 7.68e19])
    runs = bs.load_runs(df, flops_per_param_token=8.0)
    assert runs.attrs["flops_per_param_token"] == 8.0
    assert runs.attrs["derived"].startswith("D = C / (8 N)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reloaded with its own k: C agrees with 8 N D
        again = bs.load_runs(runs)
    assert again.attrs["flops_per_param_token"] == 8.0 and "D = C" in again.attrs["derived"]
    assert bs.load_runs(frame()).attrs["derived"] == "C = 6 N D"


def test_missing_both_d_and_c():
    with pytest.raises(bs.DataError, match=r"D \(or C\)"):
        bs.load_runs(frame().drop(columns="D"))


@pytest.mark.parametrize("col", ["N", "D", "loss"])
def test_non_numeric_names_column_and_csv_line(tmp_path, col):
    df = frame()
    df[col] = df[col].astype(object)
    df.loc[2, col] = "oops"
    p = tmp_path / "r.csv"
    df.to_csv(p, index=False)
    with pytest.raises(
        bs.DataError, match=f"column '{col}' has non-numeric value 'oops' at CSV line 4"
    ):
        bs.load_runs(p)


def test_nan_names_rows():
    with pytest.raises(bs.DataError, match=r"column 'loss' has missing values \(NaN\) at row 1"):
        bs.load_runs(frame(loss=[3.2, np.nan, 2.8, 2.7]))


def test_inf_names_rows():
    with pytest.raises(bs.DataError, match="column 'D' has non-finite value inf at row 3"):
        bs.load_runs(frame(D=[2e9, 4e9, 8e9, np.inf]))


@pytest.mark.parametrize("col", ["N", "D", "C", "loss"])
def test_non_positive(col):
    df = frame().assign(C=lambda d: 6 * d.N * d.D)
    df.loc[0, col] = -1.0 if col != "loss" else 0.0
    with pytest.raises(bs.DataError, match=f"column '{col}' must be positive.*row 0"):
        bs.load_runs(df)


def test_empty_file(tmp_path):
    with pytest.raises(bs.DataError, match="empty"):
        bs.load_runs(write(tmp_path, ""))


def test_header_only(tmp_path):
    with pytest.raises(bs.DataError, match="header but no rows"):
        bs.load_runs(write(tmp_path, "N,D,loss\n"))


def test_binary_file_is_not_csv(tmp_path):
    p = tmp_path / "runs.csv"
    p.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00\x00binary")
    with pytest.raises(bs.DataError, match="not a CSV"):
        bs.load_runs(p)


def test_malformed_csv(tmp_path):
    with pytest.raises(bs.DataError, match="not valid CSV"):
        bs.load_runs(write(tmp_path, 'N,D,loss\n1,2,3\n4,"5,6\n'))


def test_json_file_is_reported_as_missing_columns(tmp_path):
    with pytest.raises(bs.DataError, match="missing column"):
        bs.load_runs(write(tmp_path, '{"N": [1, 2], "loss": [3, 4]}\n', "runs.json"))


def test_file_not_found(tmp_path):
    with pytest.raises(bs.DataError, match="not found"):
        bs.load_runs(tmp_path / "nope.csv")


def test_fewer_runs_than_free_parameters(law):
    with pytest.raises(bs.DataError, match="cannot identify 7 free parameters"):
        law.fit(frame())


def test_min_runs():
    with pytest.raises(bs.DataError, match="at least 10 are needed"):
        bs.load_runs(frame(), min_runs=10)


def test_duplicates_warn_not_error():
    df = pd.concat([frame(), frame().iloc[[1]]], ignore_index=True)
    with pytest.warns(bs.DataWarning, match="duplicated runs.*rows 1, 4"):
        runs = bs.load_runs(df)
    assert len(runs) == 5


def test_compute_far_from_6nd_warns():
    df = frame().assign(C=lambda d: 6 * d.N * d.D)
    df.loc[2, "C"] *= 3
    with pytest.warns(bs.DataWarning, match="C differs from 6\\*N\\*D.*row 2"):
        bs.load_runs(df)


def test_consistent_compute_does_not_warn():
    df = frame().assign(C=lambda d: 6 * d.N * d.D * 1.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bs.load_runs(df)


def test_drop_top_loss():
    runs = bs.load_runs(frame())
    assert drop_top_loss(runs, 2)["loss"].tolist() == [2.8, 2.7]
    with pytest.raises(bs.DataError, match="non-negative integer"):
        drop_top_loss(runs, -1)


def test_shipped_chinchilla_subset_is_top5_exclusion(chinchilla_runs):
    kept = drop_top_loss(chinchilla_runs, 5)
    subset = chinchilla_runs[chinchilla_runs["replication_subset"]]
    assert len(kept) == 240
    np.testing.assert_array_equal(np.sort(kept["loss"]), np.sort(subset["loss"]))


def test_duplicate_column_names_are_refused(tmp_path):
    csv = tmp_path / "runs.csv"
    csv.write_text("N,N,D,loss\n1e8,1e8,2e9,3.0\n2e8,2e8,4e9,2.9\n")
    with pytest.raises(bs.DataError, match="column\\(s\\) 'N' more than once"):
        bs.load_runs(csv)
    frame = pd.DataFrame([[1e8, 1e8, 2e9, 3.0]], columns=["N", "N", "D", "loss"])
    with pytest.raises(bs.DataError, match="'N' more than once"):
        bs.load_runs(frame)
