from __future__ import annotations

from pathlib import Path

import pytest

# Twelve short sentences per language: enough for MIN_SENTENCES (10), tiny to encode.
CALIBRATION: dict[str, list[str]] = {
    "en": [f"The weather in city number {i} was sunny and warm today." for i in range(12)],
    "de": [f"Das Wetter in der Stadt Nummer {i} war heute sonnig und warm." for i in range(12)],
    "ru": [f"Погода в городе номер {i} сегодня была солнечной и тёплой." for i in range(12)],
}


@pytest.fixture
def calibration_texts() -> dict[str, list[str]]:
    return {lang: list(lines) for lang, lines in CALIBRATION.items()}


@pytest.fixture
def calibration_dir(tmp_path: Path) -> Path:
    """A calibration folder of en.txt, de.txt and ru.txt (12 lines each)."""
    folder = tmp_path / "calib"
    folder.mkdir()
    for lang, lines in CALIBRATION.items():
        (folder / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
