"""polyret: train and evaluate multilingual dense retrievers with hybrid batch training.

Heavy libraries (torch, transformers, sentence-transformers) are imported lazily
by the modules that need them, so ``import polyret`` and the CLI start fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
