"""Publishing a model folder on the Hugging Face hub, checked before any work is done."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from polyret.errors import ConfigError

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def check_hub(repo_id: str, timeout: float = 5.0) -> None:
    """Refuse ``--push-to-hub repo_id`` up front: a bad id, no token, or no way to the hub."""
    if not _REPO_ID.fullmatch(repo_id):
        raise ConfigError(f"--push-to-hub {repo_id!r}: give a hub id as owner/name")
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise ConfigError(
            f"--push-to-hub {repo_id}: HF_HUB_OFFLINE is set; save locally (the model is in "
            "--output-dir) and push later with `huggingface-cli upload`"
        )
    if get_token() is None:
        raise ConfigError(
            f"--push-to-hub {repo_id}: no hub token; run `huggingface-cli login` or set HF_TOKEN"
        )
    url = urlparse(os.environ.get("HF_ENDPOINT", constants.ENDPOINT))
    host, port = (
        url.hostname or "huggingface.co",
        url.port or (443 if url.scheme == "https" else 80),
    )
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"--push-to-hub {repo_id}: the hub ({host}) cannot be reached ({exc}); save locally "
            "and push later with `huggingface-cli upload`"
        ) from None


def push_folder(folder: str | os.PathLike[str], repo_id: str) -> str:
    """Upload a saved model folder to ``repo_id`` (created if needed); returns its URL."""
    from huggingface_hub import create_repo, upload_folder

    create_repo(repo_id, exist_ok=True, repo_type="model")
    upload_folder(repo_id=repo_id, folder_path=str(Path(folder)), repo_type="model")
    return f"https://huggingface.co/{repo_id}"
