"""polyret.evaluate: the one evaluation path (encode once, score plain and centered) and the one
saved format, as `polyret eval` and the experiment runner use them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from evaluation.lareqa_fixtures import write_random_dataset
from polyret.data.lareqa import load_lareqa
from polyret.debias import Calibration, fit_centering
from polyret.evaluate import Centering, evaluate, save_evaluation
from polyret.evaluation import LareqaEvalConfig
from polyret.evaluation.store import is_saved, load_result
from polyret.evaluation.tasks import LareqaTask


class CountingModel:
    """The model, counting encode calls: one encoding serves the plain and the centered score."""

    def __init__(self, model: Any) -> None:
        self.model, self.calls = model, 0

    def encode_query(self, texts: list[str], **kw: Any) -> Any:
        self.calls += 1
        return self.model.encode_query(texts, **kw)

    def encode_document(self, texts: list[str], **kw: Any) -> Any:
        self.calls += 1
        return self.model.encode_document(texts, **kw)


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny_model_dir), device="cpu")


def test_one_encoding_scores_plain_and_centered(tmp_path: Path, tiny_model: Any) -> None:
    dataset = load_lareqa(write_random_dataset(tmp_path / "data"))
    task = LareqaTask(dataset, LareqaEvalConfig(batch_size=8, show_progress=False))
    calibration = Calibration(
        {lang: [f"{lang} calibration sentence {i}" for i in range(6)] for lang in dataset.langs},
        source="test",
    )
    model = CountingModel(tiny_model)
    ev = evaluate(model, task, centering=Centering(calibration, batch_size=8))
    # the evaluation texts once (queries, candidates), the calibration text once per language
    # as queries and as passages: never the evaluation texts a second time
    assert model.calls == 2 + 2 * len(dataset.langs)
    assert ev.result is not None and ev.debiased is not None and ev.debiaser is not None
    # the centered score is the plain one's embeddings, centered by the fitted debiaser
    debiaser = fit_centering(tiny_model, calibration, batch_size=8)
    expected = task.score(debiaser.transform_lareqa(ev.embeddings))
    assert ev.debiased.summary() == pytest.approx(expected.summary())
    assert ev.debiased.summary()["multi_map"] != ev.result.summary()["multi_map"]
    # a fitted debiaser is reused, not fitted again
    again = evaluate(
        model, task, plain=False, centering=Centering(calibration), debiaser=ev.debiaser
    )
    assert again.result is None and again.debiaser is ev.debiaser
    assert model.calls == 2 + 2 * len(dataset.langs) + 2
    torch.testing.assert_close(again.embeddings.queries["aa"], ev.embeddings.queries["aa"])


def test_saved_evaluation_reads_back_and_is_whole(tmp_path: Path, tiny_model: Any) -> None:
    dataset = load_lareqa(write_random_dataset(tmp_path / "data"))
    task = LareqaTask(dataset, LareqaEvalConfig(batch_size=8, show_progress=False))
    result = evaluate(tiny_model, task).result
    assert result is not None
    folder = save_evaluation(tmp_path / "ev", result, {"model": "tiny"}, report=True)
    assert is_saved(folder)
    assert load_result(folder).summary() == pytest.approx(result.summary())
    record = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert record["model"] == "tiny" and record["dataset"] == dataset.name
    assert record["settings"]["aa->bb"]["n_queries"] == result.setting("aa", "bb").n_queries
    assert set(record["bias"]) == set(dataset.langs)
    assert (folder / "report.md").read_text(encoding="utf-8").count("`tiny`") == 1

    def broken(_: Path) -> dict[str, Any]:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_evaluation(folder, result, {"model": "other"}, extra_files=broken)
    # the old evaluation is left whole, not half replaced
    assert is_saved(folder) and json.loads((folder / "results.json").read_text())["model"] == "tiny"
