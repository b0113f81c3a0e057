from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from polyret.errors import ConfigError, ModelError
from polyret.testing.translation import build_tiny_marian
from polyret.translate.backends import DecodeOptions, ModelSpec, TransformersTranslator
from polyret.translate.cache import TranslationCache
from polyret.translate.codes import Family
from polyret.translate.pipeline import WORK_DIR, ChunkLog, TranslateConfig, translate_dataset
from translate.squad_fixture import ANSWER_SENTENCES, REPEATED, SENTENCE_COUNTS

DISTINCT_TEXTS = 16  # 10 distinct sentences + 6 distinct questions in the fixture


class Counting:
    """A real translator that counts what it is asked to translate; can fail on call ``fail_at``."""

    def __init__(self, inner: TransformersTranslator, fail_at: int | None = None) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.calls = 0
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def translate_batch(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        if self.calls == self.fail_at:
            raise RuntimeError("injected failure")
        self.calls += 1
        self.texts += texts
        return self.inner.translate_batch(texts, src, tgt)


DECODE = DecodeOptions(num_beams=1, max_new_tokens=6)


@pytest.fixture(scope="module")
def marian(marian_dir: Path) -> TransformersTranslator:
    return TransformersTranslator(str(marian_dir), DECODE)


def _config(
    squad_file: Path, out: Path, model: str | Path, targets: Sequence[str] = ("de",), **kw: Any
) -> TranslateConfig:
    kw.setdefault("decode", DECODE)
    return TranslateConfig(
        input=squad_file,
        targets=list(targets),
        model=str(model),
        out_dir=out,
        batch_size=64,
        chunk_size=2,
        progress=False,
        **kw,
    )


def _check_lareqa(path: Path, lang: str) -> dict[str, Any]:
    """The file is parallel to the fixture: ids, sentence counts, answer sentences, exact offsets."""
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert [a["title"] for a in obj["data"]] == ["Panthers", "Paris"]
    paragraphs = [p for a in obj["data"] for p in a["paragraphs"]]
    assert [len(p["sentences"]) for p in paragraphs] == SENTENCE_COUNTS
    found = []
    for p in paragraphs:
        context, breaks, sentences = p["context"], p["sentence_breaks"], p["sentences"]
        assert len(breaks) == len(sentences)
        assert [context[s:e] for s, e in breaks] == sentences
        sep = "" if lang == "zh" else " "
        assert context == sep.join(sentences)
        for qa in p["qas"]:
            (answer,) = qa["answers"]
            start = answer["answer_start"]
            index = next(i for i, (s, e) in enumerate(breaks) if s <= start < e)
            assert (
                answer["text"] == sentences[index] == context[start : start + len(answer["text"])]
            )
            assert qa["question"]
            found.append((qa["id"], index))
    assert found == ANSWER_SENTENCES
    return obj


def test_writes_a_parallel_lareqa_set(
    squad_file: Path, tmp_path: Path, marian: TransformersTranslator
) -> None:
    counting = Counting(marian)
    report = translate_dataset(
        _config(squad_file, tmp_path / "out", "m"), load=lambda ref: counting
    )
    assert report.source_path == tmp_path / "out" / "en.json"
    assert (report.paragraphs, report.sentences, report.questions) == (5, 11, 7)
    en = _check_lareqa(tmp_path / "out" / "en.json", "en")
    de = _check_lareqa(tmp_path / "out" / "de.json", "de")
    # The source file keeps the source text; the answer is its whole sentence.
    first = en["data"][0]["paragraphs"][0]
    assert first["sentences"][2] == REPEATED
    assert first["qas"][1]["answers"] == [{"text": REPEATED, "answer_start": 87}]
    assert de["data"][0]["paragraphs"][0]["sentences"] != first["sentences"]
    # Every distinct text was translated exactly once, longest first within a chunk.
    assert len(counting.texts) == len(set(counting.texts)) == DISTINCT_TEXTS
    (lang,) = report.languages
    assert (lang.translated, lang.resumed_chunks, lang.distinct_texts) == (
        DISTINCT_TEXTS,
        0,
        DISTINCT_TEXTS,
    )
    assert lang.model == marian.key


def test_cache_prevents_retranslation(
    squad_file: Path, tmp_path: Path, marian: TransformersTranslator
) -> None:
    cache = tmp_path / "shared.sqlite"
    first = Counting(marian)
    translate_dataset(
        _config(squad_file, tmp_path / "a", "m", cache_path=cache), load=lambda ref: first
    )
    assert first.calls > 0 and len(first.texts) == DISTINCT_TEXTS
    second = Counting(marian)
    report = translate_dataset(
        _config(squad_file, tmp_path / "b", "m", cache_path=cache), load=lambda ref: second
    )
    assert second.calls == 0 and report.languages[0].translated == 0
    assert (tmp_path / "a" / "de.json").read_bytes() == (tmp_path / "b" / "de.json").read_bytes()
    with TranslationCache(cache) as db:
        assert db.count(marian.key) == DISTINCT_TEXTS


def test_decoding_options_are_part_of_the_cache_key(marian_dir: Path) -> None:
    a = TransformersTranslator(str(marian_dir), DECODE)
    b = TransformersTranslator(str(marian_dir), DecodeOptions(num_beams=2, max_new_tokens=6))
    assert a.key != b.key
    assert a.key == TransformersTranslator(str(marian_dir), DECODE).key


def test_killed_run_resumes_to_the_same_output(
    squad_file: Path, tmp_path: Path, marian: TransformersTranslator
) -> None:
    translate_dataset(
        _config(squad_file, tmp_path / "full", "m"), load=lambda ref: Counting(marian)
    )
    out = tmp_path / "killed"
    # batch_size 64 >= texts per chunk: one model call per chunk, so call 2 is chunk 2.
    crashing = Counting(marian, fail_at=2)
    with pytest.raises(RuntimeError, match="injected"):
        translate_dataset(_config(squad_file, out, "m"), load=lambda ref: crashing)
    log = out / WORK_DIR / "chunks" / "de.jsonl"
    assert [json.loads(line)["chunk"] for line in log.read_text().splitlines()] == [0, 1]
    assert not (out / "de.json").exists()

    resumed = Counting(marian)
    report = translate_dataset(_config(squad_file, out, "m"), load=lambda ref: resumed)
    assert report.languages[0].resumed_chunks == 2
    assert not set(resumed.texts) & set(crashing.texts)  # nothing translated twice
    assert len(crashing.texts) + len(resumed.texts) == DISTINCT_TEXTS
    assert [json.loads(line)["chunk"] for line in log.read_text().splitlines()] == [0, 1, 2]
    for name in ("en.json", "de.json"):
        assert (out / name).read_bytes() == (tmp_path / "full" / name).read_bytes()


def test_torn_chunk_line_is_redone(
    squad_file: Path, tmp_path: Path, marian: TransformersTranslator
) -> None:
    out = tmp_path / "out"
    translate_dataset(_config(squad_file, out, "m"), load=lambda ref: Counting(marian))
    expected = (out / "de.json").read_bytes()
    log = out / WORK_DIR / "chunks" / "de.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:2]) + lines[2][:10])  # killed in the middle of a write
    (out / "de.json").unlink()
    counting = Counting(marian)
    report = translate_dataset(_config(squad_file, out, "m"), load=lambda ref: counting)
    assert report.languages[0].resumed_chunks == 2
    assert counting.calls == 0  # the torn chunk's sentences were already in the cache
    assert (out / "de.json").read_bytes() == expected
    assert len(log.read_bytes().splitlines()) == 3


def test_chunk_log_keeps_the_first_copy_of_a_chunk(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"chunk": 0, "paragraphs": [1]}\n{"chunk": 0, "paragraphs": [2]}\n{"chu')
    log = ChunkLog(path)
    assert log.done == {0: [1]}
    assert path.read_text().endswith("[2]}\n")


def test_a_resume_must_match_the_first_run(
    squad_file: Path, tmp_path: Path, marian: TransformersTranslator
) -> None:
    out = tmp_path / "out"
    translate_dataset(_config(squad_file, out, "m"), load=lambda ref: marian)
    config = _config(squad_file, out, "m")
    config.chunk_size = 3
    with pytest.raises(ConfigError, match="another chunk_size"):
        translate_dataset(config, load=lambda ref: marian)


def test_another_model_cannot_extend_finished_chunks(
    squad_file: Path, tmp_path: Path, marian: TransformersTranslator, marian_pair: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="injected"):
        translate_dataset(
            _config(squad_file, out, "m"), load=lambda ref: Counting(marian, fail_at=1)
        )
    other = TransformersTranslator(str(marian_pair / "opus-mt-en-de"), DECODE)
    with pytest.raises(ConfigError, match="were made with model"):
        translate_dataset(_config(squad_file, out, "m"), load=lambda ref: other)
    # A finished language given another model reference is checked too.
    translate_dataset(_config(squad_file, out, "m"), load=lambda ref: marian)
    with pytest.raises(ConfigError, match="were made with model"):
        translate_dataset(_config(squad_file, out, marian_pair / "opus-mt-en-de"))


def test_one_model_per_target_with_a_template(
    squad_file: Path, tmp_path: Path, marian_pair: Path
) -> None:
    out = tmp_path / "out"
    config = _config(squad_file, out, marian_pair / "opus-mt-{src}-{tgt}", targets=["de", "es"])
    report = translate_dataset(config)
    assert [lang.model.split("@")[0] for lang in report.languages] == [
        "transformers:opus-mt-en-de",
        "transformers:opus-mt-en-es",
    ]
    de = _check_lareqa(out / "de.json", "de")
    es = _check_lareqa(out / "es.json", "es")
    assert (
        de["data"][0]["paragraphs"][0]["sentences"] != es["data"][0]["paragraphs"][0]["sentences"]
    )
    mapping = f"de={marian_pair / 'opus-mt-en-de'},es={marian_pair / 'opus-mt-en-es'}"
    report = translate_dataset(
        _config(squad_file, tmp_path / "out2", mapping, targets=["de", "es"])
    )
    assert (out / "es.json").read_bytes() == (tmp_path / "out2" / "es.json").read_bytes()


def test_a_one_direction_model_cannot_serve_two_targets(
    squad_file: Path, tmp_path: Path, marian_dir: Path
) -> None:
    with pytest.raises(ConfigError, match="one direction only"):
        translate_dataset(_config(squad_file, tmp_path / "out", marian_dir, targets=["de", "es"]))


@pytest.mark.parametrize(
    ("fixture", "family", "src_token", "tgt_token"),
    [
        ("nllb_dir", Family.NLLB, "eng_Latn", "deu_Latn"),
        ("m2m_dir", Family.M2M, "__en__", "__de__"),
    ],
)
def test_multilingual_families_set_both_languages(
    fixture: str,
    family: Family,
    src_token: str,
    tgt_token: str,
    squad_file: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    translator = TransformersTranslator(str(model_dir), DECODE)
    assert translator.family is family and translator.multi_target
    tok = translator.tokenizer
    # The source language token leads the encoder input (set through tokenizer.src_lang) ...
    assert translator._encode(["Paris"], "en", "de")[0][0] == tok.convert_tokens_to_ids(src_token)
    # ... and the decoder is forced to start with the target language token.
    ids = translator.generate_ids(["Paris is the capital of France.", "Who led?"], "en", "de")
    assert ids[:, 1].tolist() == [tok.convert_tokens_to_ids(tgt_token)] * 2
    assert all(tgt_token not in t for t in translator.translate_batch(["Who led?"], "en", "de"))
    with pytest.raises(ModelError, match="'xx' has no"):
        translator.check_languages("en", "xx")
    out = tmp_path / "out"
    translate_dataset(_config(squad_file, out, model_dir, targets=["de", "zh"]))
    _check_lareqa(out / "de.json", "de")
    _check_lareqa(out / "zh.json", "zh")


def test_model_spec_forms() -> None:
    assert ModelSpec.parse("facebook/nllb-200-distilled-600M").model_for("en", "de") == (
        "facebook/nllb-200-distilled-600M"
    )
    assert ModelSpec.parse("Helsinki-NLP/opus-mt-{src}-{tgt}").model_for("en", "de") == (
        "Helsinki-NLP/opus-mt-en-de"
    )
    spec = ModelSpec.parse("de=/m/en-de, es=/m/en-es")
    assert spec.model_for("en", "es") == "/m/en-es"
    with pytest.raises(ConfigError, match="no model for 'fr'"):
        spec.model_for("en", "fr")
    with pytest.raises(ConfigError, match="not lang=model"):
        ModelSpec.parse("de=/m/en-de,/m/en-es")
    with pytest.raises(ConfigError, match="only use"):
        ModelSpec.parse("opus-mt-{source}-{tgt}")


def test_config_rejects_bad_options(squad_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="source language"):
        _config(squad_file, tmp_path, "m", targets=["de", "en"])
    with pytest.raises(ConfigError, match="twice"):
        _config(squad_file, tmp_path, "m", targets=["de", "de"])
    with pytest.raises(ConfigError, match="--beams"):
        DecodeOptions(num_beams=0)
    with pytest.raises(ConfigError, match="--device"):
        DecodeOptions(device="gpu")


def test_cache_round_trip(tmp_path: Path) -> None:
    texts = {f"sentence {i}": f"Satz {i}" for i in range(1200)}
    with TranslationCache(tmp_path / "c.sqlite") as cache:
        cache.put_many("m", "en", "de", texts)
    with TranslationCache(tmp_path / "c.sqlite") as cache:
        assert cache.get_many("m", "en", "de", [*texts, "other"]) == texts
        assert cache.get_many("m", "en", "es", texts) == {}
        assert cache.get_many("m2", "en", "de", texts) == {}


@pytest.mark.integration
def test_xquad_r_subset_keeps_every_answer_sentence(shared_data: Path, tmp_path: Path) -> None:
    raw = json.loads((shared_data / "lareqa" / "xquad-r" / "en.json").read_text(encoding="utf-8"))
    subset = {"version": "1.1", "data": raw["data"][:2]}
    path = tmp_path / "xquad-en.json"
    path.write_text(json.dumps(subset), encoding="utf-8")
    expected = {}
    texts = []
    for article in subset["data"]:
        for para in article["paragraphs"]:
            texts.append(para["context"])
            for qa in para["qas"]:
                start = qa["answers"][0]["answer_start"]
                breaks = para["sentence_breaks"]
                expected[qa["id"]] = next(i for i, (s, e) in enumerate(breaks) if s <= start < e)
                texts.append(qa["question"])
    model = build_tiny_marian(tmp_path / "m", texts, max_positions=256)
    out = tmp_path / "out"
    translate_dataset(_config(squad_file=path, out=out, model=model, targets=["zh"]))
    for lang in ("en", "zh"):
        obj = json.loads((out / f"{lang}.json").read_text(encoding="utf-8"))
        found = {}
        for article in obj["data"]:
            for para in article["paragraphs"]:
                breaks = para["sentence_breaks"]
                assert [para["context"][s:e] for s, e in breaks] == para["sentences"]
                for qa in para["qas"]:
                    start = qa["answers"][0]["answer_start"]
                    found[qa["id"]] = next(i for i, (s, e) in enumerate(breaks) if s <= start < e)
        assert found == expected


def test_output_loads_with_polyret_lareqa_reader(
    squad_file: Path, tmp_path: Path, marian: TransformersTranslator
) -> None:
    lareqa = pytest.importorskip("polyret.data.lareqa")
    out = tmp_path / "out"
    translate_dataset(_config(squad_file, out, "m"), load=lambda ref: marian)
    dataset = lareqa.load_lareqa(out)
    assert dataset.langs == ["de", "en"]
    expected = [index for _, index in ANSWER_SENTENCES]
    for lang in ("de", "en"):
        got = [dataset.answer_candidate(qid, lang).sentence for qid, _ in ANSWER_SENTENCES]
        assert got == expected
