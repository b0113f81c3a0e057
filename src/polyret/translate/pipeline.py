"""Translate a SQuAD-format QA file into a parallel LAReQA-format set, sentence by sentence.

Every paragraph is translated one sentence at a time, so sentence ``i`` of a translated
paragraph is the translation of source sentence ``i``: the answer sentence keeps its
index in every language and ``sentence_breaks`` are exact. The answer *span* cannot
be aligned through a translation, so in every written file (the source language's too)
``answers[0]`` is the whole answer sentence and ``answer_start`` its start.

Layout of ``out_dir``::

    en.json de.json ...         final LAReQA files, written atomically once complete
    .polyret-translate/
        manifest.json           input hash, source language, chunk size, model key per language
        cache.sqlite            translations by (model key, src, tgt, text), unless --cache
        chunks/<lang>.jsonl     one line per finished chunk of paragraphs (append-only)

A killed run restarted with the same arguments skips the finished chunks (and every
sentence already in the cache) and writes the same files as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyret.configfile import check_at_least
from polyret.errors import ConfigError
from polyret.io import write_json, write_text
from polyret.progress import bars_on
from polyret.translate.backends import (
    BACKENDS,
    DecodeOptions,
    ModelSpec,
    Translator,
    load_translator,
)
from polyret.translate.cache import TranslationCache
from polyret.translate.codes import check_lang
from polyret.translate.source import SourceParagraph, SourceSet, load_squad
from polyret.translate.splitting import join_sentences, normalize_space

__all__ = [
    "WORK_DIR",
    "ChunkLog",
    "LanguageReport",
    "TranslateConfig",
    "TranslateReport",
    "build_paragraph",
    "translate_dataset",
]

logger = logging.getLogger(__name__)

WORK_DIR = ".polyret-translate"
_MANIFEST_FORMAT = 1


@dataclass
class TranslateConfig:
    """What ``polyret translate`` does; validated on construction."""

    input: Path
    targets: list[str]
    model: str
    """A model, a ``{tgt}`` template or a ``lang=model`` mapping (:class:`ModelSpec`)."""
    out_dir: Path
    source_lang: str = "en"
    backend: str = "transformers"
    batch_size: int = 32
    """Sentences per model call (the batches are sorted by length)."""
    chunk_size: int = 64
    """Paragraphs per resumable chunk."""
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    cache_path: Path | None = None
    """SQLite translation cache; default ``out_dir/.polyret-translate/cache.sqlite``."""
    progress: bool = True
    spec: ModelSpec = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.input = Path(self.input)
        self.out_dir = Path(self.out_dir)
        check_lang(self.source_lang, option="--source-lang")
        if not self.targets:
            raise ConfigError("--to names no language")
        for lang in self.targets:
            check_lang(lang)
        if len(set(self.targets)) != len(self.targets):
            raise ConfigError(f"--to names a language twice: {','.join(self.targets)}")
        if self.source_lang in self.targets:
            raise ConfigError(
                f"--to includes the source language {self.source_lang!r}; its file is always written"
            )
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}"
            )
        check_at_least(self, "batch_size", "chunk_size")
        self.spec = ModelSpec.parse(self.model)
        for lang in self.targets:
            self.spec.model_for(self.source_lang, lang)

    @property
    def work_dir(self) -> Path:
        return self.out_dir / WORK_DIR


@dataclass
class LanguageReport:
    """What one target language cost."""

    lang: str
    path: Path
    model: str | None
    """Key of the model that made the chunks (None only for an empty input)."""
    distinct_texts: int
    translated: int
    """Texts the model translated in this run (the rest came from the cache or old chunks)."""
    resumed_chunks: int
    empty_outputs: int
    """Translations that came back empty and were replaced by the source text."""
    seconds: float
    """Wall time for this language, model loading included."""
    translate_seconds: float
    """Time spent inside the model's translate calls."""

    @property
    def sentences_per_second(self) -> float:
        return self.translated / self.translate_seconds if self.translate_seconds > 0 else 0.0


@dataclass
class TranslateReport:
    source_path: Path
    paragraphs: int
    questions: int
    sentences: int
    languages: list[LanguageReport]


class ChunkLog:
    """Append-only JSONL of finished chunks: ``{"chunk": k, "paragraphs": [...]}`` per line.

    A line is written whole with one ``write`` and fsynced; a line torn by a kill is cut
    off when the log is opened again, so that chunk is simply redone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[int, list[dict[str, Any]]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        good = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                record = json.loads(line)
                chunk, paragraphs = int(record["chunk"]), record["paragraphs"]
            except (ValueError, KeyError, TypeError):
                break
            self.done.setdefault(chunk, paragraphs)
            good += len(line)
        if good < len(data):
            logger.warning("%s: dropping a torn last line (%d bytes)", self.path, len(data) - good)
            with open(self.path, "r+b") as f:
                f.truncate(good)

    def append(self, chunk: int, paragraphs: list[dict[str, Any]]) -> None:
        line = json.dumps({"chunk": chunk, "paragraphs": paragraphs}, ensure_ascii=False) + "\n"
        with open(self.path, "ab") as f:
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        self.done[chunk] = paragraphs


def build_paragraph(
    paragraph: SourceParagraph, lang: str, translations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One LAReQA paragraph: sentences (translated when ``translations`` is given) joined with exact breaks."""
    sentences = [translations[s] if translations else s for s in paragraph.sentences]
    context, breaks = join_sentences(sentences, lang)
    qas = [
        {
            "id": q.id,
            "question": translations[q.question] if translations else q.question,
            "answers": [
                {"text": sentences[q.answer_sentence], "answer_start": breaks[q.answer_sentence][0]}
            ],
        }
        for q in paragraph.qas
    ]
    return {"context": context, "sentence_breaks": breaks, "sentences": sentences, "qas": qas}


def _texts(paragraphs: Sequence[SourceParagraph]) -> list[str]:
    """Distinct texts to translate (sentences and questions), in first-seen order."""
    return list(
        dict.fromkeys(t for p in paragraphs for t in (*p.sentences, *(q.question for q in p.qas)))
    )


def _write_lareqa(path: Path, source: SourceSet, paragraphs: Sequence[dict[str, Any]]) -> None:
    data: list[dict[str, Any]] = [{"title": t, "paragraphs": []} for t in source.titles]
    for src, para in zip(source.paragraphs, paragraphs, strict=True):
        data[src.article]["paragraphs"].append(para)
    write_text(
        path, json.dumps({"version": source.version, "data": data}, ensure_ascii=False) + "\n"
    )


class _Manifest:
    """The run's identity in ``manifest.json``: a resume must match it."""

    def __init__(self, config: TranslateConfig, source: SourceSet) -> None:
        self.path = config.work_dir / "manifest.json"
        want = {
            "format": _MANIFEST_FORMAT,
            "input_sha256": source.sha256,
            "source_lang": config.source_lang,
            "chunk_size": config.chunk_size,
            "paragraphs": len(source.paragraphs),
        }
        self.data: dict[str, Any] = {**want, "input": str(source.path), "models": {}}
        if self.path.exists():
            try:
                old = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"{self.path}: unreadable ({exc}); delete {config.work_dir}"
                ) from exc
            for key, value in want.items():
                if old.get(key) != value:
                    raise ConfigError(
                        f"{config.out_dir} holds a run with another {key} ({old.get(key)!r}, now "
                        f"{value!r}); use a new --out or delete {config.work_dir}"
                    )
            self.data["models"] = dict(old.get("models", {}))
        write_json(self.path, self.data)

    def ref(self, lang: str) -> str | None:
        """The model reference that made the chunks of ``lang`` so far."""
        return self.data["models"].get(lang, {}).get("ref")

    def claim(self, lang: str, ref: str, model_key: str, chunks: Path) -> None:
        """Record the model of ``lang``; refuse to mix chunks of two models."""
        old = self.data["models"].get(lang, {}).get("key")
        if old is not None and old != model_key and chunks.exists():
            raise ConfigError(
                f"the finished chunks of {lang!r} in {chunks} were made with model {old}; this run "
                f"uses {model_key}: use a new --out or delete {chunks}"
            )
        self.data["models"][lang] = {"ref": ref, "key": model_key}
        write_json(self.path, self.data)


@dataclass
class _Work:
    """What translating one language's remaining chunks did."""

    translated: int = 0
    empty: int = 0
    cut: int = 0
    seconds: float = 0.0


def _translate_chunks(
    translator: Translator,
    cache: TranslationCache,
    log: ChunkLog,
    chunks: Sequence[Sequence[SourceParagraph]],
    src: str,
    lang: str,
    config: TranslateConfig,
) -> _Work:
    """Translate and append every chunk not in ``log``; each distinct text goes to the model once."""
    from tqdm.auto import tqdm

    work = _Work()
    key = translator.key
    todo_chunks = [k for k in range(len(chunks)) if k not in log.done]
    pending = _texts([p for k in todo_chunks for p in chunks[k]])
    uncached = len(pending) - len(cache.get_many(key, src, lang, pending))
    cut_before = translator.truncated
    with tqdm(
        total=uncached, unit="sent", desc=f"{src}->{lang}", disable=not bars_on(config.progress)
    ) as bar:
        for k in todo_chunks:
            texts = _texts(chunks[k])
            done = cache.get_many(key, src, lang, texts)
            # Longest first: batches of similar length pad little, and an out-of-memory
            # batch shows up at once.
            todo = sorted((t for t in texts if t not in done), key=len, reverse=True)
            for i in range(0, len(todo), config.batch_size):
                batch = todo[i : i + config.batch_size]
                tick = time.perf_counter()
                outputs = translator.translate_batch(batch, src, lang)
                work.seconds += time.perf_counter() - tick
                if len(outputs) != len(batch):
                    raise RuntimeError(
                        f"{translator.name}: {len(outputs)} outputs for {len(batch)}"
                    )
                new: dict[str, str] = {}
                for text, out in zip(batch, outputs, strict=True):
                    out = normalize_space(out)
                    if not out:
                        work.empty += 1
                        out = text
                    new[text] = out
                cache.put_many(key, src, lang, new)
                done.update(new)
                work.translated += len(batch)
                bar.update(len(batch))
            log.append(k, [build_paragraph(p, lang, done) for p in chunks[k]])
    work.cut = translator.truncated - cut_before
    return work


def translate_dataset(
    config: TranslateConfig, *, load: Callable[[str], Translator] | None = None
) -> TranslateReport:
    """Translate ``config.input`` into every target language; return what it did.

    ``load(model_ref)`` makes a translator (default: :func:`load_translator` with the
    config's backend and decoding options).
    """
    if load is None:

        def load(ref: str) -> Translator:
            return load_translator(ref, config.backend, config.decode)

    source = load_squad(config.input, config.source_lang)
    src = config.source_lang
    logger.info(
        "%s: %d articles, %d paragraphs (%d split with pysbd), %d questions%s",
        source.path,
        len(source.titles),
        len(source.paragraphs),
        source.split_paragraphs,
        source.n_questions,
        f", {source.skipped_impossible} unanswerable left out" if source.skipped_impossible else "",
    )
    config.out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _Manifest(config, source)
    source_path = config.out_dir / f"{src}.json"
    _write_lareqa(source_path, source, [build_paragraph(p, src) for p in source.paragraphs])

    refs = {lang: config.spec.model_for(src, lang) for lang in config.targets}
    size = config.chunk_size
    chunks = [source.paragraphs[i : i + size] for i in range(0, len(source.paragraphs), size)]
    distinct = len(_texts(source.paragraphs))
    cache = TranslationCache(config.cache_path or config.work_dir / "cache.sqlite")
    loaded: tuple[str, Translator] | None = None
    reports: list[LanguageReport] = []
    try:
        for lang in config.targets:
            started = time.perf_counter()
            ref = refs[lang]
            log = ChunkLog(config.work_dir / "chunks" / f"{lang}.jsonl")
            resumed = sum(k in log.done for k in range(len(chunks)))
            work = _Work()
            key: str | None = manifest.data["models"].get(lang, {}).get("key")
            # A finished language made by the same model reference is not loaded again.
            if resumed < len(chunks) or manifest.ref(lang) != ref:
                if loaded is None or loaded[0] != ref:
                    loaded = None  # free the previous model before loading the next
                    loaded = (ref, load(ref))
                translator = loaded[1]
                sharing = [t for t, r in refs.items() if r == ref]
                if not translator.multi_target and len(sharing) > 1:
                    raise ConfigError(
                        f"model {ref!r} translates one direction only (no language tokens) but "
                        f"--to gives it {', '.join(sharing)}; give one model per target, e.g. "
                        f"--model 'Helsinki-NLP/opus-mt-{src}-{{tgt}}' or --model 'de=DIR1,es=DIR2'"
                    )
                translator.check_languages(src, lang)
                key = translator.key
                manifest.claim(lang, ref, key, log.path)
                work = _translate_chunks(translator, cache, log, chunks, src, lang, config)
            _warn_about(lang, work)
            path = config.out_dir / f"{lang}.json"
            _write_lareqa(path, source, _logged_paragraphs(log, chunks, config.work_dir))
            report = LanguageReport(
                lang=lang,
                path=path,
                model=key,
                distinct_texts=distinct,
                translated=work.translated,
                resumed_chunks=resumed,
                empty_outputs=work.empty,
                seconds=time.perf_counter() - started,
                translate_seconds=work.seconds,
            )
            logger.info(
                "%s: %d texts translated (%.1f sentences/s), %d chunks resumed",
                path,
                work.translated,
                report.sentences_per_second,
                resumed,
            )
            reports.append(report)
    finally:
        cache.close()
    return TranslateReport(
        source_path=source_path,
        paragraphs=len(source.paragraphs),
        questions=source.n_questions,
        sentences=sum(len(p.sentences) for p in source.paragraphs),
        languages=reports,
    )


def _warn_about(lang: str, work: _Work) -> None:
    """Log what a language's translation had to cut or keep untranslated."""
    if work.cut:
        logger.warning(
            "%s: %d sentences were longer than the model's input limit and were cut",
            lang,
            work.cut,
        )
    if work.empty:
        logger.warning(
            "%s: %d translations came back empty; the source text was kept", lang, work.empty
        )


def _logged_paragraphs(
    log: ChunkLog, chunks: list[list[Any]], work_dir: Path
) -> list[dict[str, Any]]:
    """Every chunk's translated paragraphs from the chunk log, in order (each chunk complete)."""
    paragraphs: list[dict[str, Any]] = []
    for k, chunk in enumerate(chunks):
        part = log.done[k]
        if len(part) != len(chunk):
            raise ConfigError(
                f"{log.path}: chunk {k} has {len(part)} paragraphs, expected "
                f"{len(chunk)}; delete {work_dir} and run again"
            )
        paragraphs.extend(part)
    return paragraphs
