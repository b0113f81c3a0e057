"""Model resolution: local directories, hub ids and the bundled multilingual-e5-small."""

from polyret.models.resolve import BUNDLED_PREFIX, ResolvedModel, load_model, resolve_model

__all__ = ["BUNDLED_PREFIX", "ResolvedModel", "load_model", "resolve_model"]
