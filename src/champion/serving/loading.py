"""Loaded models and their hot swap.

:class:`ModelSlots` holds the champion and the challenger as immutable
:class:`LoadedModel` objects. A swap replaces a reference, which is atomic: a request (or
a micro-batch) that took the old model finishes with it, the next one takes the new
one. A new version is always loaded completely — weights, signature, compiled path and
its verification — before it replaces the old one, and never on a request's path.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from champion.errors import BackendError, ModelIntegrityError
from champion.serving import flavors
from champion.serving.compiled import Predictor, build_predictor
from champion.serving.validation import NUMERIC_TYPES, FeatureSpec
from champion.tracking.digest import DIGEST_TAG, directory_digest, download
from champion.tracking.registry import TASK_TAG, ModelRegistry, VersionInfo
from champion.types import Alias, Task

log = logging.getLogger("champion.serving")

#: Seconds before a version that failed to load is tried again; doubling up to the max.
FIRST_BACKOFF = 30.0
MAX_BACKOFF = 900.0


@dataclass(frozen=True)
class LoadedModel:
    """One model version, ready to score."""

    name: str
    version: str
    run_id: str | None
    spec: FeatureSpec
    predictor: Predictor = field(repr=False)
    path: str  # compiled or pipeline, and why
    classes: tuple[Any, ...] | None
    loaded_at: datetime
    integrity: str = "verified"  # or "unverified": no digest was recorded for it

    @property
    def estimator_name(self) -> str:
        named = getattr(self.predictor, "name", None)
        if named:
            return str(named)
        estimator = getattr(self.predictor, "estimator", None) or getattr(
            self.predictor, "model", None
        )
        return type(estimator).__name__

    @property
    def task(self) -> Task:
        return Task.CLASSIFICATION if self.classes is not None else Task.REGRESSION

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "task": self.task,
            "features": list(self.spec.names),
            "path": self.path,
            "estimator": self.estimator_name,
            "loaded_at": self.loaded_at.isoformat(),
            "integrity": self.integrity,
        }


def fetch_verified(info: VersionInfo, *, require_digest: bool = False) -> tuple[Path, str]:
    """The version's files, downloaded to a directory of their own and checked against
    the digest recorded at registration; and ``verified`` or ``unverified`` (no digest
    recorded). Files that do not match are refused before anything is unpickled."""
    work = Path(tempfile.mkdtemp(prefix=f"champion-{info.name}-v{info.version}-"))
    try:
        local = download(info.model_uri, work)
        expected = info.tags.get(DIGEST_TAG)
        if expected is None:
            if require_digest:
                raise ModelIntegrityError(
                    f"v{info.version} has no {DIGEST_TAG} tag and CHAMPION_REQUIRE_MODEL_DIGEST "
                    "is set; `champion adopt` records one"
                )
            return local, "unverified"
        if directory_digest(local) != expected:
            raise ModelIntegrityError(
                f"v{info.version}'s files do not match the digest recorded when it was "
                "registered; not loaded"
            )
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return local, "verified"


def load_model(info: VersionInfo, *, require_digest: bool = False) -> LoadedModel:
    """Load a registered version — its files verified first (:func:`fetch_verified`) —
    with its signature and the fastest verified path.

    A scikit-learn model gets the compiled path (verified, else its pipeline); any other
    flavour is served through :mod:`champion.serving.flavors`.
    """
    import mlflow.models
    from mlflow.exceptions import MlflowException

    local, integrity = fetch_verified(info, require_digest=require_digest)
    uri = str(local)  # the files just checked, not another download
    try:
        meta = mlflow.models.get_model_info(uri)
    except (MlflowException, OSError) as exc:
        raise BackendError(f"cannot load {uri}: {exc}") from exc
    if meta.signature is None or meta.signature.inputs is None:
        raise BackendError(f"{info.model_uri} has no signature; log it with one to serve it")
    spec = FeatureSpec.from_signature(meta.signature)
    classifier = _declared_classifier(info)
    try:
        model, flavor = flavors.load(uri, meta.flavors, spec, classifier)
    except (MlflowException, OSError, ImportError, TypeError, ValueError) as exc:
        raise BackendError(f"cannot load {uri}: {exc}") from exc
    if flavor == "sklearn":
        numeric = [n for n in spec.names if spec.types[n] in NUMERIC_TYPES]
        predictor, path = build_predictor(model, spec.names, numeric)
        classes = getattr(model, "classes_", None)
    else:
        predictor, path = model, f"{flavor} flavour on a typed DataFrame"
        classes = getattr(predictor, "classes", None)
    return LoadedModel(
        name=info.name,
        version=info.version,
        run_id=info.run_id,
        spec=spec,
        predictor=predictor,
        path=path,
        classes=tuple(c.item() if hasattr(c, "item") else c for c in classes)
        if classes is not None
        else None,
        loaded_at=datetime.now(UTC),
        integrity=integrity,
    )


def _declared_classifier(info: VersionInfo) -> bool | None:
    """What the version's ``champion.task`` tag says it is (None: no tag)."""
    task = info.tags.get(TASK_TAG)
    if task is None:
        return None
    if task not in tuple(Task):
        raise BackendError(f"v{info.version} has tag {TASK_TAG}={task!r}: not a task")
    return Task(task) is Task.CLASSIFICATION


class ModelSlots:
    """The champion and the challenger currently served."""

    def __init__(self, *, require_digest: bool = False) -> None:
        self.champion: LoadedModel | None = None
        self.challenger: LoadedModel | None = None
        self.last_error: str | None = None
        self.require_digest = require_digest
        self._lock = threading.Lock()  # serialises refreshes, never requests
        # a version that failed to load is tried again only after a back-off (not
        # downloaded and unpickled on every poll): key -> (next try, delay, error)
        self._failed: dict[str, tuple[float, float, str]] = {}
        # first failures since the last drain: (key, slot, version, error), notified once
        self.new_failures: list[tuple[str, str, str, str]] = []
        self.failing: set[str] = set()  # slots whose wanted version did not load

    def snapshot(self) -> tuple[LoadedModel | None, LoadedModel | None]:
        return self.champion, self.challenger

    def refresh(self, registry: ModelRegistry) -> list[str]:
        """Follow the aliases: load what moved, then swap. Returns what changed.

        A registry failure keeps the loaded models (and is reported in ``last_error``);
        a version that fails to load keeps the previous one in its slot.
        """
        changes = []
        with self._lock:
            try:
                wanted = {alias: registry.alias(alias, refresh=True) for alias in Alias}
            except BackendError as exc:
                self.last_error = str(exc)
                log.warning("registry unavailable, serving the loaded models: %s", exc)
                return changes
            errors: list[str] = []
            failing: set[str] = set()
            for slot, info in wanted.items():
                current: LoadedModel | None = getattr(self, slot)
                if info is None:
                    if current is not None and slot == Alias.CHALLENGER:
                        self.challenger = None
                        changes.append(f"challenger v{current.version} unloaded")
                    continue
                if current is not None and current.version == info.version:
                    continue
                loaded = self._try_load(slot, info, errors)
                if loaded is None:
                    failing.add(slot)
                    continue
                setattr(self, slot, loaded)  # the swap: one reference assignment
                before = f"v{current.version}" if current else "nothing"
                changes.append(f"{slot} {before} -> v{loaded.version} ({loaded.path})")
                log.info("%s", changes[-1])
            self.last_error = "; ".join(errors) or None
            self.failing = failing
        return changes

    def _try_load(self, slot: str, info: VersionInfo, errors: list[str]) -> LoadedModel | None:
        # a new digest tag (the version re-registered or re-adopted) is a new attempt
        key = f"{slot}:{info.version}:{info.tags.get(DIGEST_TAG)}"
        failed = self._failed.get(key)
        now = time.monotonic()
        if failed is not None and now < failed[0]:
            errors.append(f"{failed[2]} (next try in {failed[0] - now:.0f} s)")
            return None
        try:
            loaded = load_model(info, require_digest=self.require_digest)
        except BackendError as exc:
            delay = min(failed[1] * 2, MAX_BACKOFF) if failed else FIRST_BACKOFF
            self._failed[key] = (now + delay, delay, str(exc))
            if failed is None:
                self.new_failures.append((key, slot, info.version, str(exc)))
            errors.append(str(exc))
            log.error("could not load %s v%s: %s", slot, info.version, exc)
            return None
        self._failed.pop(key, None)
        return loaded
