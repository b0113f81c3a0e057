"""Save a sentence-transformers model so that it reloads with the same architecture."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def save_model(model: SentenceTransformer, path: str | os.PathLike[str]) -> Path:
    """``model.save(path)``, keeping a pooler-less BERT pooler-less on reload.

    sentence-transformers does not write the ``model_kwargs`` a model was loaded with; a BERT
    built with ``add_pooling_layer=False`` (the bundled model) would come back with a random,
    unused pooler and "MISSING weights" warnings.
    """
    path = Path(path)
    model.save(str(path))
    first = model[0]
    auto_model = getattr(first, "auto_model", None)
    if auto_model is not None and hasattr(auto_model, "pooler") and auto_model.pooler is None:
        config_path = path / "sentence_bert_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config.setdefault("model_kwargs", {})["add_pooling_layer"] = False
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path
