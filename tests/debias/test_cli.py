from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from polyret.cli.main import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["debias", *args])
    captured = capsys.readouterr()
    return code, captured.err.strip()


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("empty", [], "de.txt: no sentences for language 'de' (the file is empty)"),
        ("none", ["--languages", "de", "fr"], "unknown language 'fr'"),
        ("none", ["--sentences", "50"], "only 12 sentences for language 'de', fewer than the 50"),
        ("none", ["--method", "center", "--k", "2"], "--k applies to --method project only"),
    ],
)
def test_bad_calibration_one_line_exit_2(
    capsys, tiny_model_dir: Path, calibration_dir: Path, tmp_path: Path, setup, extra, message
) -> None:
    if setup == "empty":
        (calibration_dir / "de.txt").write_text("\n \n")
    code, err = _run(
        capsys,
        "--model", str(tiny_model_dir),
        "--calibration", str(calibration_dir),
        "--out", str(tmp_path / "out"),
        "--sentences", "10",
        *extra,
    )  # fmt: skip
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("polyret debias: error: ")
    assert message in err
    assert not (tmp_path / "out").exists()


def test_ntrex_without_data_root(capsys, tiny_model_dir: Path, tmp_path: Path) -> None:
    code, err = _run(
        capsys,
        "--model", str(tiny_model_dir),
        "--calibration", "ntrex",
        "--data-dir", str(tmp_path / "nowhere"),
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2 and len(err.splitlines()) == 1 and "ntrex-128 not found" in err


def test_debias_writes_loadable_models(
    capsys, tiny_model_dir: Path, calibration_dir: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    from polyret.debias import load_debiased

    common = [
        "--model",
        str(tiny_model_dir),
        "--calibration",
        str(calibration_dir),
        "--sentences",
        "10",
    ]
    code, err = _run(
        capsys,
        *common,
        "--out",
        str(tmp_path / "c"),
        "--languages",
        "en",
        "de",
        "fr",
        "--uncentered-ok",
    )
    assert code == 0, err
    record = json.loads((tmp_path / "c" / "polyret_debias.json").read_text())
    assert record["languages"] == ["en", "de"] and record["uncentered_languages"] == ["fr"]
    model = load_debiased(tmp_path / "c", device="cpu")
    assert model.encode_query(["Hallo"], lang="fr").shape == (1, 32)

    code, err = _run(
        capsys, *common, "--out", str(tmp_path / "p"), "--method", "project", "--k", "1"
    )
    assert code == 0, err
    assert SentenceTransformer(str(tmp_path / "p"), device="cpu").encode_document(["x"]).shape == (
        1,
        32,
    )
    # An existing output is not overwritten by accident.
    code, err = _run(capsys, *common, "--out", str(tmp_path / "p"), "--method", "project")
    assert code == 2 and "--overwrite" in err


def test_debias_with_query_calibration(
    capsys, tiny_model_dir: Path, calibration_dir: Path, tmp_path: Path
) -> None:
    from polyret.debias import fit_centering, load_calibration, load_debiased, load_queries
    from polyret.models import load_model

    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "de.txt").write_text("\n".join(f"Wo liegt Stadt {i}?" for i in range(12)))
    args = ["--model", str(tiny_model_dir), "--calibration", str(calibration_dir),
            "--precision", "fp32"]  # fmt: skip
    code, err = _run(
        capsys, *args, "--query-calibration", str(queries), "--sentences", "10",
        "--out", str(tmp_path / "q"),
    )  # fmt: skip
    assert code == 0, err
    record = json.loads((tmp_path / "q" / "polyret_debias.json").read_text())
    assert record["queries"]["languages"] == ["de"]
    assert record["query_centroids_transferred"] == ["en", "ru"]
    # The saved model applies exactly the debiaser fitted with those queries.
    model = load_model(str(tiny_model_dir), device="cpu")
    langs = ["de", "en", "ru"]
    expected = fit_centering(
        model,
        load_calibration(calibration_dir, languages=langs, sentences=10),
        queries=load_queries(queries, languages=langs, sentences=10),
    )
    loaded = load_debiased(tmp_path / "q", device="cpu")
    texts = ["Wo ist der Fluss?", "Where is the river?"]
    want = expected.transform(model.encode_query(texts, convert_to_tensor=True), kind="query")
    torch.testing.assert_close(loaded.encode_query(texts, convert_to_tensor=True), want)

    code, err = _run(
        capsys, *args, "--sentences", "10", "--query-calibration", "ntrex",
        "--out", str(tmp_path / "n"),
    )  # fmt: skip
    assert code == 2 and "not queries" in err


def test_debias_defaults_to_the_bundled_model(
    capsys, bundled_stand_in: Path, calibration_dir: Path, tmp_path: Path
) -> None:
    args = ["--calibration", str(calibration_dir), "--sentences", "10"]
    code, err = _run(capsys, *args, "--out", str(tmp_path / "c"))
    assert code == 0, err
    record = json.loads((tmp_path / "c" / "polyret_debias.json").read_text())
    assert record["base_model"] == "bundled:multilingual-e5-small"


def test_a_bad_model_is_reported_before_missing_calibration(capsys, tmp_path: Path) -> None:
    args = ["--model", str(tmp_path / "no-model"), "--calibration", str(tmp_path / "no-text")]
    code, err = _run(capsys, *args, "--out", str(tmp_path / "out"))
    assert code == 2 and "no model directory" in err


def test_debias_says_how_the_model_loads(
    capsys, tiny_model_dir: Path, calibration_dir: Path, tmp_path: Path
) -> None:
    common = ["--model", str(tiny_model_dir), "--calibration", str(calibration_dir)]
    assert main(["debias", *common, "--sentences", "10", "--out", str(tmp_path / "c")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    card = (tmp_path / "c" / "README.md").read_text()
    for text in (last, card):
        assert "polyret installed" in text
        assert "load_debiased" in text and "trust_remote_code=True" in text
        assert "--method project" in text
    # YAML front matter (what the hub and mteb read), then the title.
    assert card.startswith("---\nlibrary_name: sentence-transformers\n")
    assert card.split("---\n", 2)[2].startswith("# polyret/c\n")

    argv = ["debias", *common, "--sentences", "10", "--out", str(tmp_path / "p")]
    assert main([*argv, "--method", "project"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    card = (tmp_path / "p" / "README.md").read_text()
    assert "without polyret" in last and 'SentenceTransformer("PATH")' in card
    assert "trust_remote_code" not in card


def test_debias_records_its_precision(
    capsys, tiny_model_dir: Path, calibration_dir: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    argv = ["--model", str(tiny_model_dir), "--calibration", str(calibration_dir), "--sentences",
            "10", "--method", "project", "--device", "cpu", "--precision", "bf16"]  # fmt: skip
    code, err = _run(capsys, *argv, "--out", str(tmp_path / "p"))
    assert code == 0, err
    record = json.loads((tmp_path / "p" / "polyret_debias.json").read_text())
    assert record["precision"] == "bf16"
    saved = SentenceTransformer(str(tmp_path / "p"), device="cpu")
    assert all(w.dtype == torch.float32 for w in saved.state_dict().values())


def test_debias_options_from_a_config_file(
    capsys, tiny_model_dir: Path, calibration_dir: Path, tmp_path: Path
) -> None:
    """``polyret debias --config FILE``: its options, flags over them; ``--print-config`` prints
    what ``--config`` loads back; a misspelt key is named with the file."""
    config = tmp_path / "debias.yaml"
    config.write_text(
        f"model: {tiny_model_dir}\ncalibration: {calibration_dir}\nsentences: 10\n"
        f"method: project\noutput_dir: {tmp_path / 'out'}\n",
        encoding="utf-8",
    )
    assert (
        main(["debias", "--config", str(config), "--centroids", "passage", "--print-config"]) == 0
    )
    printed = capsys.readouterr().out
    assert "method: project" in printed and "centroids: passage" in printed
    again = tmp_path / "again.yaml"
    again.write_text(printed, encoding="utf-8")
    assert main(["debias", "--config", str(again), "--no-progress"]) == 0
    record = json.loads((tmp_path / "out" / "polyret_debias.json").read_text(encoding="utf-8"))
    assert record["method"] == "project" and record["centroids"] == "passage"
    config.write_text(f"calibration: {calibration_dir}\nmethd: project\n", encoding="utf-8")
    code, err = _run(capsys, "--config", str(config), "--out", str(tmp_path / "other"))
    assert code == 2 and "debias.yaml" in err and "methd" in err
