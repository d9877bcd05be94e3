"""Digests of a model version's files: recorded at registration (and at adoption), checked
by the API before it loads a version.

Loading a model runs its pickle, so what the API loads must be what was registered: the
digest is a SHA-256 over every file of the version's artifacts — relative path, size and
content, in sorted order — so a changed, added or removed file changes it. It protects
against the files being changed after registration (in the artifact store); it cannot
protect against whoever may register versions and set their tags (docs/security.md).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from champion.errors import BackendError

#: The version tag that holds the digest.
DIGEST_TAG = "champion.digest"
#: Files MLflow itself writes into a download of a ``models:/`` URI (not the model's).
_MLFLOW_WRITES = frozenset({"registered_model_meta"})
_CHUNK = 1 << 20


def directory_digest(root: Path) -> str:
    """``sha256:<hex>`` of the files under ``root`` (see the module docstring)."""
    total = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        relative = path.relative_to(root).as_posix()
        if relative in _MLFLOW_WRITES:
            continue
        content = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                content.update(chunk)
        total.update(f"{relative}\0{path.stat().st_size}\0{content.hexdigest()}\n".encode())
    return f"sha256:{total.hexdigest()}"


def download(model_uri: str, into: Path) -> Path:
    """The artifacts of ``model_uri`` downloaded under ``into``; their local root."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(into))
    except (MlflowException, OSError) as exc:
        raise BackendError(f"cannot download {model_uri}: {exc}") from exc
    return Path(local)


def version_digest(model_uri: str) -> str:
    """The digest of a registered version's files (downloaded to a temporary directory)."""
    work = Path(tempfile.mkdtemp(prefix="champion-digest-"))
    try:
        return directory_digest(download(model_uri, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
