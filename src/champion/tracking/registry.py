"""The MLflow model registry, through aliases (never the deprecated stages).

Two aliases matter: ``champion`` (serves traffic) and ``challenger`` (under test). Every
alias move — register, promote, reject, rollback — is recorded **in MLflow itself**:

* as a registered-model tag ``champion.event.<ns timestamp>`` holding JSON
  ``{action, alias, version, previous, actor, at, reason}`` (the history), and
* as model-version tags ``champion.<action>.at/by/reason`` on the version concerned,

so the audit trail survives with the registry. ``rollback`` walks that history: the
champion returns to the version it replaced when it was promoted, and a second rollback
goes one step further back.

Alias lookups are cached for ``cache_ttl`` seconds (one lookup against a server with
basic auth costs ~0.5 s); the registry's own moves invalidate the cache.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from champion.errors import BackendError, ConflictError, NotFoundError
from champion.settings import Settings
from champion.tracking.connection import connect
from champion.tracking.digest import DIGEST_TAG, version_digest
from champion.types import Alias, RegistryAction

EVENT_PREFIX = "champion.event."
#: Version tags champion reads: the task, the run holding the training schema and the
#: drift reference profile (an adopted version's is not the run that made it), and the
#: name of the data it was trained on.
TASK_TAG = "champion.task"
SCHEMA_RUN_TAG = "champion.schema_run"
DATASET_TAG = "champion.dataset"
_MAX_REASON = 1000


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version."""

    name: str
    version: str
    run_id: str | None
    source: str
    created_at: datetime
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def schema_run(self) -> str | None:
        """The run that records this version's schema and reference profile."""
        return self.tags.get(SCHEMA_RUN_TAG) or self.run_id


@dataclass(frozen=True)
class AliasEvent:
    """One recorded alias move."""

    at: str
    action: RegistryAction
    alias: str
    version: str | None
    previous: str | None
    actor: str
    reason: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AliasEvent:
        data = json.loads(text)
        return cls(**{**data, "action": RegistryAction(data["action"])})


def _wrap(exc: Exception, what: str) -> BackendError:
    message = getattr(exc, "message", None) or str(exc)
    return BackendError(f"MLflow registry failed to {what}: {message}")


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


class ModelRegistry:
    """Adapter over ``MlflowClient`` for one registered model."""

    def __init__(
        self,
        client: Any,
        name: str,
        *,
        cache_ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.name = name
        self.cache_ttl = cache_ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, VersionInfo | None]] = {}
        self._lock = threading.Lock()

    # -- reading -------------------------------------------------------------------
    def _info(self, mv: Any, aliases: tuple[str, ...] | None = None) -> VersionInfo:
        return VersionInfo(
            name=mv.name,
            version=str(mv.version),
            run_id=mv.run_id or None,
            source=mv.source,
            created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
            aliases=tuple(aliases if aliases is not None else (mv.aliases or ())),
            tags=dict(mv.tags or {}),
        )

    def alias(self, alias: str, *, refresh: bool = False) -> VersionInfo | None:
        """The version behind ``alias`` (cached), or None if the alias is not set."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(alias)
        if hit is not None and not refresh and now - hit[0] < self.cache_ttl:
            return hit[1]
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version_by_alias(self.name, alias)
            info: VersionInfo | None = self._info(mv)
        except MlflowException as exc:
            if not (_is_missing(exc) or self._denied_because_missing(exc)):
                raise _wrap(exc, f"look up alias {alias!r}") from exc
            info = None
        with self._lock:
            self._cache[alias] = (now, info)
        return info

    def _denied_because_missing(self, exc: Exception) -> bool:
        """MLflow's auth answers 403, not 404, to a non-admin asking for an alias of a
        model that does not exist; the model lookup tells the two apart."""
        from mlflow.exceptions import MlflowException

        if getattr(exc, "error_code", "") != "PERMISSION_DENIED":
            return False
        try:
            self.client.get_registered_model(self.name)
        except MlflowException as probe:
            return _is_missing(probe)
        return False

    def get(self, version: str) -> VersionInfo:
        from mlflow.exceptions import MlflowException

        try:
            return self._info(self.client.get_model_version(self.name, str(version)))
        except MlflowException as exc:
            if _is_missing(exc):
                raise NotFoundError(f"model {self.name!r} has no version {version}") from exc
            raise _wrap(exc, f"read version {version}") from exc

    def versions(self) -> list[VersionInfo]:
        """Every version, newest first, with its current aliases."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.search_model_versions(f"name = '{self.name}'")
            model = self.client.get_registered_model(self.name)
        except MlflowException as exc:
            if _is_missing(exc):
                return []
            raise _wrap(exc, "list versions") from exc
        by_version: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
        infos = [self._info(mv, tuple(sorted(by_version.get(str(mv.version), [])))) for mv in found]
        return sorted(infos, key=lambda v: int(v.version), reverse=True)

    def history(self) -> list[AliasEvent]:
        """Every recorded alias move, oldest first."""
        from mlflow.exceptions import MlflowException

        try:
            tags = self.client.get_registered_model(self.name).tags or {}
        except MlflowException as exc:
            if _is_missing(exc):
                return []
            raise _wrap(exc, "read history") from exc
        return [
            AliasEvent.from_json(value)
            for key, value in sorted(tags.items())
            if key.startswith(EVENT_PREFIX)
        ]

    # -- writing -------------------------------------------------------------------
    def _record(self, event: AliasEvent) -> None:
        key = f"{EVENT_PREFIX}{time.time_ns():020d}"
        self.client.set_registered_model_tag(self.name, key, event.to_json())
        if event.version is not None:
            for suffix, value in (("at", event.at), ("by", event.actor), ("reason", event.reason)):
                self.client.set_model_version_tag(
                    self.name, event.version, f"champion.{event.action}.{suffix}", value
                )

    def _move(
        self,
        action: RegistryAction,
        alias: Alias,
        version: str | None,
        *,
        actor: str,
        reason: str,
        previous: str | None,
    ) -> AliasEvent:
        from mlflow.exceptions import MlflowException

        event = AliasEvent(
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            action=action,
            alias=alias,
            version=version,
            previous=previous,
            actor=actor,
            reason=reason[:_MAX_REASON],
        )
        try:
            if version is None:
                self.client.delete_registered_model_alias(self.name, alias)
            else:
                self.client.set_registered_model_alias(self.name, alias, version)
        except MlflowException as exc:
            raise _wrap(exc, f"{action} ({alias} -> {version})") from exc
        finally:
            with self._lock:
                self._cache.clear()
        try:
            self._record(event)
        except MlflowException as exc:
            raise BackendError(
                f"alias {alias!r} moved to {version} but the history could not be recorded: "
                f"{getattr(exc, 'message', exc)}"
            ) from exc
        return event

    def _record_digest(self, version: str) -> None:
        from mlflow.exceptions import MlflowException

        digest = version_digest(f"models:/{self.name}/{version}")
        try:
            self.client.set_model_version_tag(self.name, version, DIGEST_TAG, digest)
        except MlflowException as exc:
            raise _wrap(exc, f"record the digest of version {version}") from exc

    def register(
        self,
        model_uri: str,
        run_id: str | None,
        *,
        alias: Alias | None,
        actor: str,
        reason: str,
        model_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> VersionInfo:
        """Register a new version from a logged model, optionally under ``alias``."""
        from mlflow.exceptions import MlflowException

        try:
            try:
                self.client.create_registered_model(self.name)
            except MlflowException as exc:
                if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                    raise
            mv = self.client.create_model_version(
                self.name, model_uri, run_id=run_id, tags=tags, model_id=model_id
            )
        except MlflowException as exc:
            raise _wrap(exc, f"register {model_uri}") from exc
        version = str(mv.version)
        self._record_digest(version)  # before any alias points at it
        if alias is not None:
            previous = self.alias(alias, refresh=True)
            self._move(
                RegistryAction.REGISTER,
                alias,
                version,
                actor=actor,
                reason=reason,
                previous=previous.version if previous else None,
            )
        return self.get(version)

    def promote(self, version: str | None = None, *, actor: str, reason: str) -> AliasEvent:
        """Make ``version`` (default: the challenger) the champion; remember the old one."""
        challenger = self.alias(Alias.CHALLENGER, refresh=True)
        if version is None:
            if challenger is None:
                raise NotFoundError(f"model {self.name!r} has no challenger to promote")
            version = challenger.version
        target = self.get(version).version
        current = self.alias(Alias.CHAMPION, refresh=True)
        if current is not None and current.version == target:
            raise ConflictError(f"version {target} is already the champion")
        event = self._move(
            RegistryAction.PROMOTE,
            Alias.CHAMPION,
            target,
            actor=actor,
            reason=reason,
            previous=current.version if current else None,
        )
        if challenger is not None and challenger.version == target:
            self._move(
                RegistryAction.CLEAR,
                Alias.CHALLENGER,
                None,
                actor=actor,
                reason=reason,
                previous=target,
            )
        return event

    def adopt(
        self,
        version: str,
        alias: Alias,
        *,
        actor: str,
        reason: str,
        tags: dict[str, str] | None = None,
    ) -> AliasEvent:
        """Put an existing version under ``alias``, its ``tags`` set first (so whoever
        follows the alias finds them). A champion adopted from the challenger's version
        also clears the challenger alias."""
        from mlflow.exceptions import MlflowException

        info = self.get(version)
        target = info.version
        current = self.alias(alias, refresh=True)
        if current is not None and current.version == target and not tags:
            raise ConflictError(f"version {target} is already the {alias}")
        if DIGEST_TAG not in info.tags:  # a model champion did not register
            tags = {**(tags or {}), DIGEST_TAG: version_digest(info.model_uri)}
        try:
            for key, value in (tags or {}).items():
                self.client.set_model_version_tag(self.name, target, key, value)
        except MlflowException as exc:
            raise _wrap(exc, f"tag version {target}") from exc
        event = self._move(
            RegistryAction.ADOPT,
            alias,
            target,
            actor=actor,
            reason=reason,
            previous=current.version if current else None,
        )
        challenger = self.alias(Alias.CHALLENGER, refresh=True)
        if alias == Alias.CHAMPION and challenger is not None and challenger.version == target:
            self._move(
                RegistryAction.CLEAR,
                Alias.CHALLENGER,
                None,
                actor=actor,
                reason=reason,
                previous=target,
            )
        return event

    def reject_challenger(self, *, actor: str, reason: str) -> AliasEvent:
        """Remove the challenger alias; the version keeps a record of why."""
        challenger = self.alias(Alias.CHALLENGER, refresh=True)
        if challenger is None:
            raise NotFoundError(f"model {self.name!r} has no challenger to reject")
        event = self._move(
            RegistryAction.REJECT,
            Alias.CHALLENGER,
            None,
            actor=actor,
            reason=reason,
            previous=challenger.version,
        )
        try:
            self.client.set_model_version_tag(
                self.name, challenger.version, "champion.rejected", event.at
            )
        except Exception as exc:  # the alias is gone; the tag is a convenience
            raise _wrap(exc, "tag the rejected version") from exc
        return event

    def previous_champion(self) -> str | None:
        """The version the current champion replaced (walking back over rollbacks)."""
        current = self.alias(Alias.CHAMPION, refresh=True)
        if current is None:
            return None
        for event in reversed(self.history()):
            if (
                event.alias == Alias.CHAMPION
                and event.version == current.version
                and event.action
                in (RegistryAction.REGISTER, RegistryAction.PROMOTE, RegistryAction.ADOPT)
            ):
                return event.previous
        return None

    def rollback(self, *, actor: str, reason: str) -> AliasEvent:
        """The champion returns to the version it replaced."""
        current = self.alias(Alias.CHAMPION, refresh=True)
        if current is None:
            raise NotFoundError(f"model {self.name!r} has no champion to roll back")
        previous = self.previous_champion()
        if previous is None:
            raise NotFoundError(
                f"champion v{current.version} of {self.name!r} replaced no earlier champion; "
                "nothing to roll back to"
            )
        return self._move(
            RegistryAction.ROLLBACK,
            Alias.CHAMPION,
            previous,
            actor=actor,
            reason=reason,
            previous=current.version,
        )


def open_registry(settings: Settings) -> ModelRegistry:
    """The registry of ``settings.model_name`` over a checked MLflow connection, its alias
    lookups cached for ``CHAMPION_REGISTRY_CACHE_TTL`` seconds (what the API polls)."""
    return ModelRegistry(
        connect(settings).client, settings.model_name, cache_ttl=settings.registry_cache_ttl
    )
