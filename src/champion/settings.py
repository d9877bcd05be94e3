"""Settings: every knob of champion, read from the environment and validated once.

Every setting lists the environment variables it is read from: ``CHAMPION_<NAME>``
first, then, for some, the name users of the original pipelines already set
(``MODEL_NAME``, ``MLFLOW_TRACKING_URI``, ``TRAIN_PATH``, ``CURRENT_PATH``,
``DRIFT_THRESHOLD``, ``PSI_THRESHOLD``, ``KS_PVALUE_THRESHOLD``, ``AB_SPLIT_B``,
``AB_LOG_PATH``, ``EXPERIMENT_NAME``, ``COMPARISON_NAME``, ``MLFLOW_LOG``) or MLflow's
own (``MLFLOW_TRACKING_USERNAME``, ``MLFLOW_TRACKING_PASSWORD``). Nothing else is read:
not bare field names (a shell's ``HOME`` is not champion's home), not other cases. A
``.env`` file in the working directory is read with the same names, below the
environment.

In code the settings are grouped — the drift check (``settings.drift``), training
(``settings.training``), the A/B experiment (``settings.ab``), the API
(``settings.serving``) — and each group builds the pure layer's policy
(``settings.drift.config()``, ``settings.training.config()``, ``settings.ab.policy()``),
with overrides for one call. A setting's *flat name* is its ``CHAMPION_`` variable in
lower case without the prefix (``drift_alpha``): :func:`load_settings` and
:meth:`Settings.with_values` take overrides by that name. Every invalid value becomes
one line of a :class:`~champion.errors.ConfigError` naming the variable that was set.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from champion.abtest.decision import Policy
from champion.drift.detect import DriftConfig
from champion.errors import ConfigError
from champion.training.config import TrainConfig
from champion.types import ABMode, Correction, DriftRule, DriftUnit, LogWriter

ENV_FILE = ".env"
PREFIX = "CHAMPION_"


def setting(default: Any, *names: str, **options: Any) -> Any:
    """A field read from the environment variables ``names`` (the first one wins)."""
    if not names or not names[0].startswith(PREFIX):
        raise TypeError(f"the first name of a setting is its {PREFIX}* variable: {names}")
    return Field(default, json_schema_extra={"env": list(names)}, **options)


class Group(BaseModel):
    """A group of settings (frozen, no unknown keys)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def _build(self, cls: Any, overrides: Mapping[str, object]) -> Any:
        """``cls`` (a frozen dataclass of the pure layer) from this group's values of the
        same names, then the non-None ``overrides``; ``cls`` validates the result."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}")
        values = {k: v for k, v in self.model_dump().items() if k in names}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class DriftSettings(Group):
    """The drift check of the served features."""

    rule: DriftRule = setting(DriftRule.ANY, "CHAMPION_DRIFT_RULE")
    alpha: float = setting(0.05, "CHAMPION_DRIFT_ALPHA", "KS_PVALUE_THRESHOLD", gt=0, lt=1)
    psi_threshold: float = setting(0.2, "CHAMPION_PSI_THRESHOLD", "PSI_THRESHOLD", gt=0)
    drift_threshold: float = setting(0.2, "CHAMPION_DRIFT_THRESHOLD", "DRIFT_THRESHOLD", gt=0)
    share_threshold: float = setting(0.5, "CHAMPION_DRIFT_SHARE", gt=0, le=1)
    ks_floor: float = setting(0.05, "CHAMPION_KS_FLOOR", ge=0, le=1)
    psi_floor: float = setting(0.02, "CHAMPION_PSI_FLOOR", ge=0)
    correction: Correction = setting(Correction.BONFERRONI, "CHAMPION_DRIFT_CORRECTION")
    bins: int = setting(10, "CHAMPION_DRIFT_BINS", ge=2, le=1000)
    window: int = setting(
        2000,
        "CHAMPION_DRIFT_WINDOW",
        ge=10,
        description="Latest served rows the drift check compares with the reference (by "
        "unit user, each user's latest row among them).",
    )
    auc_floor: float = setting(0.55, "CHAMPION_DRIFT_AUC_FLOOR", ge=0.5, lt=1)
    joint: bool = setting(
        True,
        "CHAMPION_DRIFT_JOINT",
        description="Also check the champion's score and the features' joint distribution "
        "against its first served window (a classifier two-sample test).",
    )
    perf_margin: float = setting(
        0.01,
        "CHAMPION_PERF_MARGIN",
        ge=0,
        description="Performance drop tolerated before retraining: accuracy points "
        "(classifiers) or a share of the validation MAE (regressors).",
    )
    perf_alpha: float = setting(0.05, "CHAMPION_PERF_ALPHA", gt=0, lt=1)
    perf_estimate_trigger: bool = setting(
        False,
        "CHAMPION_PERF_ESTIMATE_TRIGGER",
        description="Also retrain when the label-free accuracy estimate falls below the "
        "floor (it trusts the model's calibration).",
    )
    unit: DriftUnit = setting(
        DriftUnit.USER,
        "CHAMPION_DRIFT_UNIT",
        description="user: each user's latest row counts once (a user's rows are alike); "
        "row: every row.",
    )

    def config(self, **overrides: object) -> DriftConfig:
        """The drift check's configuration, with ``overrides`` (None keeps a value)."""
        config: DriftConfig = self._build(DriftConfig, overrides)
        return config


class TrainingSettings(Group):
    """AutoML training, and retraining on live labels."""

    budget: float = setting(30.0, "CHAMPION_TRAIN_BUDGET", gt=0, description="Search seconds.")
    metric: str | None = setting(
        None,
        "CHAMPION_TRAIN_METRIC",
        description="Selection metric; default recall (classification) or mae (regression).",
    )
    folds: int = setting(5, "CHAMPION_CV_FOLDS", ge=2, le=20)
    seed: int = setting(42, "CHAMPION_SEED", ge=0, description="Seed of the search and the refit.")
    precision_tolerance: float = setting(
        0.05,
        "CHAMPION_PRECISION_TOLERANCE",
        ge=0,
        le=1,
        description="Recall selection: precision that may be given up for recall.",
    )
    retrain_rows: int = setting(
        5000,
        "CHAMPION_RETRAIN_ROWS",
        ge=10,
        description="Latest labelled rows a drift-triggered retraining learns from.",
    )
    trainer: str | None = setting(
        None,
        "CHAMPION_TRAINER",
        description="Your training function, package.module:function, instead of FLAML.",
    )
    retrain_min_rows: int = setting(
        200,
        "CHAMPION_RETRAIN_MIN_ROWS",
        ge=10,
        description="Fewer labelled rows than this: retraining waits for more labels.",
    )

    def config(self, **overrides: object) -> TrainConfig:
        """The training configuration, with ``overrides`` (None keeps a value)."""
        config: TrainConfig = self._build(TrainConfig, overrides)
        return config


class ABSettings(Group):
    """A/B experiments: the routing used while none is stored, and the evaluation."""

    mode: ABMode = setting(
        ABMode.HASH,
        "CHAMPION_AB_MODE",
        description="Routing when no A/B configuration is stored yet.",
    )
    split_b: float = setting(
        0.5,
        "CHAMPION_AB_SPLIT_B",
        "AB_SPLIT_B",
        ge=0,
        le=1,
        description="Share of traffic routed to the challenger (hash and random modes).",
    )
    alpha: float = setting(
        0.05,
        "CHAMPION_AB_ALPHA",
        gt=0,
        lt=1,
        description="Two-sided level of the anytime-valid confidence sequence.",
    )
    n_star: int = setting(
        10_000,
        "CHAMPION_AB_PLANNED_LABELS",
        ge=10,
        description="N*: labelled rows where the sequence is tightest (a planning guess).",
    )
    min_labelled: int = setting(200, "CHAMPION_AB_MIN_LABELLED", ge=2, description="Per arm.")
    max_labelled: int = setting(
        40_000,
        "CHAMPION_AB_MAX_LABELLED",
        ge=3,
        description="Horizon: labelled rows after which an undecided challenger is rejected.",
    )
    promote_margin: float = setting(
        0.0,
        "CHAMPION_AB_PROMOTE_MARGIN",
        ge=0,
        description="Promote when the lower bound of B - A (per-row score) exceeds this.",
    )
    precision_margin: float = setting(0.02, "CHAMPION_AB_PRECISION_MARGIN", ge=0)
    recall_margin: float = setting(0.02, "CHAMPION_AB_RECALL_MARGIN", ge=0)
    error_rate_margin: float = setting(0.01, "CHAMPION_AB_ERROR_RATE_MARGIN", ge=0)
    latency_margin_ms: float = setting(
        25.0,
        "CHAMPION_AB_LATENCY_MARGIN_MS",
        ge=0,
        description="Guardrail: how much slower B's scoring may be than A's, per row.",
    )
    label_maturity_s: float = setting(
        0.0,
        "CHAMPION_AB_LABEL_MATURITY",
        ge=0,
        description="Seconds a row must be old before it is compared: set it to the time "
        "labels take to arrive, so late labels cannot bias the comparison.",
    )
    labels_independent: bool = setting(
        False,
        "CHAMPION_AB_LABELS_INDEPENDENT",
        description="Split traffic: the label never depends on the answer served (e.g. "
        "the outcome happens whatever the model said), so both models are compared on "
        "every labelled row.",
    )

    @model_validator(mode="after")
    def _horizon_after_minimum(self) -> ABSettings:
        if self.max_labelled <= self.min_labelled:
            raise ValueError(
                f"the horizon CHAMPION_AB_MAX_LABELLED={self.max_labelled} must be larger "
                f"than CHAMPION_AB_MIN_LABELLED={self.min_labelled}"
            )
        return self

    def policy(self, **overrides: object) -> Policy:
        """The evaluation policy, with ``overrides`` (None keeps a value)."""
        policy: Policy = self._build(Policy, overrides)
        return policy


class ServingSettings(Group):
    """The prediction API."""

    admin_token: SecretStr | None = setting(
        None,
        "CHAMPION_ADMIN_TOKEN",
        description="Bearer token of the admin endpoints (A/B config); unset: they refuse.",
    )
    feedback_token: SecretStr | None = setting(
        None,
        "CHAMPION_FEEDBACK_TOKEN",
        description="Bearer token of POST /feedback (the admin token works too); "
        "neither set: labels are refused.",
    )
    read_token: SecretStr | None = setting(
        None,
        "CHAMPION_READ_TOKEN",
        description="Set: GET /ab/report and /models need it (or the admin token) as a "
        "bearer token; unset: they are open.",
    )
    poll_interval: float = setting(
        5.0,
        "CHAMPION_POLL_INTERVAL",
        gt=0,
        description="Seconds between checks of the registry aliases and the A/B config.",
    )
    ab_keep_interval: float = setting(
        60.0,
        "CHAMPION_AB_KEEP_INTERVAL",
        ge=0,
        description="Seconds between the API's additions of new rows to the running A/B "
        "sums an experiment's start (or a look) began (so a look reads minutes of rows, not "
        "hours); 0: off.",
    )
    registry_webhook_secret: SecretStr | None = setting(
        None,
        "CHAMPION_REGISTRY_WEBHOOK_SECRET",
        description="The secret of the MLflow registry webhook (`champion webhook "
        "subscribe`): set, POST /hooks/mlflow accepts MLflow's signed alias events and "
        "every worker reloads within CHAMPION_SIGNAL_INTERVAL; unset, it refuses.",
    )
    signal_interval: float = setting(
        0.25,
        "CHAMPION_SIGNAL_INTERVAL",
        gt=0,
        le=60,
        description="Seconds between each worker's checks of the registry signal (one "
        "primary-key read) that a webhook raised.",
    )
    max_batch_items: int = setting(1000, "CHAMPION_MAX_BATCH_ITEMS", ge=1)
    strict_features: bool = setting(
        False,
        "CHAMPION_STRICT_FEATURES",
        description="A request feature the model does not use is a 422 (default: ignored "
        "and listed in the response's ignored_features).",
    )
    max_body_bytes: int = setting(
        2 * 1024 * 1024,
        "CHAMPION_MAX_BODY_BYTES",
        ge=1024,
        description="Largest request body the API reads; larger ones are refused with 413.",
    )
    max_json_keys: int = setting(
        1000,
        "CHAMPION_MAX_JSON_KEYS",
        ge=10,
        description="Most keys one JSON object of a request may have (a record's features "
        "included); more: 422 before any validation.",
    )
    log_deadline: float = setting(
        5.0,
        "CHAMPION_LOG_DEADLINE",
        gt=0,
        le=120,
        description="Seconds a request waits for its row's commit; then 503 (and the row is "
        "never kept). Also the database's statement timeout for the API.",
    )
    log_writer: LogWriter = setting(
        LogWriter.PROCESS,
        "CHAMPION_LOG_WRITER",
        description="Where the group commits run: process (a child process of each API "
        "worker, off the event loop's GIL) or thread (in the worker; no extra process).",
    )
    log_max_queue: int = setting(
        20_000,
        "CHAMPION_LOG_MAX_QUEUE",
        ge=100,
        description="Rows that may wait for the database; more: 503 at once (bounded memory).",
    )
    http_max_header_bytes: int = setting(
        64 * 1024,
        "CHAMPION_HTTP_MAX_HEADER_BYTES",
        ge=4096,
        description="Largest request line + headers (more: 431, connection closed).",
    )
    http_max_headers: int = setting(
        100, "CHAMPION_HTTP_MAX_HEADERS", ge=10, description="Most headers a request may have."
    )
    http_header_timeout: float = setting(
        10.0,
        "CHAMPION_HTTP_HEADER_TIMEOUT",
        gt=0,
        description="Seconds a request head may take to arrive (then 408, closed).",
    )
    http_body_timeout: float = setting(
        30.0,
        "CHAMPION_HTTP_BODY_TIMEOUT",
        gt=0,
        description="Seconds a request body may take to arrive after its head.",
    )
    http_keep_alive: float = setting(
        5.0,
        "CHAMPION_HTTP_KEEP_ALIVE",
        gt=0,
        description="Seconds an idle keep-alive connection stays open.",
    )
    require_model_digest: bool = setting(
        False,
        "CHAMPION_REQUIRE_MODEL_DIGEST",
        description="Refuse to load a version without a recorded digest (versions champion "
        "registers or adopts have one; a version whose files do not match is always refused).",
    )
    max_json_depth: int = setting(
        32, "CHAMPION_MAX_JSON_DEPTH", ge=4, description="Deepest nesting a request may have."
    )
    gil_switch_interval: float = setting(
        0.0005,
        "CHAMPION_GIL_SWITCH_INTERVAL",
        gt=0,
        le=0.1,
        description="sys.setswitchinterval of the API process (see docs/benchmarks.md).",
    )


class NotifySettings(Group):
    """Notifications: webhooks told of drift, retraining, experiments and decisions."""

    webhooks: SecretStr | None = setting(
        None,
        "CHAMPION_WEBHOOKS",
        description="Webhook URLs told of every event, separated by commas or spaces; "
        "`slack:URL` sends Slack's body, `json:URL` (or a bare URL) champion's JSON "
        "(hooks.slack.com URLs get Slack's by default). Secret: URLs often hold a token.",
    )
    webhook_secret: SecretStr | None = setting(
        None,
        "CHAMPION_WEBHOOK_SECRET",
        description="Set: every body is signed, X-Champion-Signature: "
        "sha256=HMAC(secret, timestamp + '.' + body), timestamp in X-Champion-Timestamp.",
    )
    webhook_timeout: float = setting(
        5.0, "CHAMPION_WEBHOOK_TIMEOUT", gt=0, le=60, description="Seconds per attempt."
    )
    webhook_retries: int = setting(
        3,
        "CHAMPION_WEBHOOK_RETRIES",
        ge=1,
        le=10,
        description="Attempts made at once (back-off 0.5 s, 1 s, 2 s, ...) before a "
        "notification waits for a later flush.",
    )
    webhook_max_attempts: int = setting(
        8,
        "CHAMPION_WEBHOOK_MAX_ATTEMPTS",
        ge=1,
        le=100,
        description="Attempts in all (later ones by every lifecycle step and the API's "
        "flush, back-off doubling from a minute) before a notification is given up.",
    )
    public_url: str | None = setting(
        None,
        "CHAMPION_PUBLIC_URL",
        description="The API's address as people reach it: notifications link its dashboard.",
    )

    @model_validator(mode="after")
    def _targets_parse(self) -> NotifySettings:
        webhook_targets(self)  # a bad URL is a ConfigError at start, not at the first event
        return self


def webhook_targets(group: NotifySettings) -> tuple[tuple[str, str], ...]:
    """``(format, url)`` for every configured webhook: format ``slack`` or ``json``."""
    if group.webhooks is None:
        return ()
    found = []
    for entry in group.webhooks.get_secret_value().replace(",", " ").split():
        kind, _, rest = entry.partition(":")
        if kind in ("slack", "json") and rest.startswith("http"):
            fmt, url = kind, rest
        else:
            url = entry
            fmt = "slack" if url.split("/")[2:3] == ["hooks.slack.com"] else "json"
        if not url.startswith(("http://", "https://")) or len(url.split("/")) < 3:
            raise ValueError("CHAMPION_WEBHOOKS: every entry is an http(s) URL")
        found.append((fmt, url))
    return tuple(found)


class Settings(BaseSettings):
    """All of champion's configuration. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    # -- where things live ---------------------------------------------------------------
    home: Path = setting(
        Path("champion-data"),
        "CHAMPION_HOME",
        description="Working directory of the embedded mode (MLflow store, prediction log).",
    )
    model_name: str = setting(
        "champion-model",
        "CHAMPION_MODEL_NAME",
        "MODEL_NAME",
        min_length=1,
        description="Registered model name in the MLflow registry.",
    )
    mlflow_tracking_uri: str | None = setting(
        None,
        "CHAMPION_MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
        description="MLflow tracking URI; default: an embedded SQLite store under `home`.",
    )
    experiment_name: str = setting(
        "champion-training", "CHAMPION_EXPERIMENT_NAME", "EXPERIMENT_NAME", min_length=1
    )
    comparison_name: str = setting(
        "champion-ab-comparison", "CHAMPION_COMPARISON_NAME", "COMPARISON_NAME", min_length=1
    )
    mlflow_log: bool = setting(True, "CHAMPION_MLFLOW_LOG", "MLFLOW_LOG")
    mlflow_username: str | None = setting(
        None,
        "CHAMPION_MLFLOW_USERNAME",
        "MLFLOW_TRACKING_USERNAME",
        description="User for an MLflow server with basic auth.",
    )
    mlflow_password: SecretStr | None = setting(
        None,
        "CHAMPION_MLFLOW_PASSWORD",
        "MLFLOW_TRACKING_PASSWORD",
        description="Password for an MLflow server with basic auth (never logged).",
    )
    registry_cache_ttl: float = setting(
        30.0,
        "CHAMPION_REGISTRY_CACHE_TTL",
        ge=0,
        description="Seconds an alias lookup is cached (a lookup over HTTP costs ~0.5 s).",
    )
    mlflow_wait: float = setting(
        0.0,
        "CHAMPION_MLFLOW_WAIT",
        ge=0,
        description=(
            "Seconds to keep retrying an unreachable tracking server before failing: when a "
            "step connects, and when a finished training logs and registers its model."
        ),
    )
    actor: str | None = setting(
        None, "CHAMPION_ACTOR", description="Who is recorded for alias moves; default: user@host."
    )
    train_path: Path | None = setting(None, "CHAMPION_TRAIN_PATH", "TRAIN_PATH")
    current_path: Path | None = setting(None, "CHAMPION_CURRENT_PATH", "CURRENT_PATH")
    ab_log_path: Path | None = setting(
        None,
        "CHAMPION_AB_LOG_PATH",
        "AB_LOG_PATH",
        description="SQLite file of the prediction log; default: `home`/events.db.",
    )
    database_url: str | None = setting(
        None,
        "CHAMPION_DATABASE_URL",
        description="Prediction log: sqlite:///PATH or postgresql://...; default: ab_log_path.",
    )
    log_retention_days: int | None = setting(
        None,
        "CHAMPION_LOG_RETENTION_DAYS",
        ge=1,
        description=(
            "Days of predictions the log keeps; older ones are archived to "
            "CHAMPION_LOG_ARCHIVE_TO and deleted by the log_retention DAG (default: keep all)."
        ),
    )
    log_archive_to: str | None = setting(
        None,
        "CHAMPION_LOG_ARCHIVE_TO",
        description="Where retention archives old predictions: a directory or s3://bucket/prefix.",
    )
    # -- groups --------------------------------------------------------------------------
    drift: DriftSettings = Field(default_factory=DriftSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    ab: ABSettings = Field(default_factory=ABSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, NamedVariables(settings_cls)

    @model_validator(mode="after")
    def _paths_exist(self) -> Settings:
        for name in ("train_path", "current_path"):
            path = getattr(self, name)
            if path is not None and not Path(path).exists():
                raise ValueError(f"{name.upper()}={path} does not exist")
        return self

    def with_values(self, **flat: Any) -> Settings:
        """A copy with the settings of these flat names changed, validated again."""
        try:
            return type(self).model_validate(_deep_merge(self.model_dump(), nest(flat)))
        except ValidationError as exc:
            raise _config_error(exc, {}) from exc

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI in force (the embedded SQLite store by default)."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        """Where the embedded mode keeps MLflow artifacts."""
        return self.home / "artifacts"

    @property
    def embedded(self) -> bool:
        """True when MLflow runs in-process on a local store (no server)."""
        return not self.tracking_uri.startswith(("http://", "https://", "databricks"))

    @property
    def who(self) -> str:
        """The actor recorded for alias moves."""
        if self.actor:
            return self.actor
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return f"{user}@{socket.gethostname()}"

    @property
    def events_path(self) -> Path:
        """The SQLite prediction log used in embedded mode."""
        return self.ab_log_path or self.home / "events.db"

    @property
    def events_url(self) -> str:
        """The database URL of the prediction log in force."""
        return self.database_url or f"sqlite:///{self.events_path.resolve()}"


# -- the variables ----------------------------------------------------------------------
Key = tuple[str, ...]


def _fields() -> Iterator[tuple[Key, FieldInfo]]:
    for name, info in Settings.model_fields.items():
        group = info.annotation
        if isinstance(group, type) and issubclass(group, Group):
            for sub, sub_info in group.model_fields.items():
                yield (name, sub), sub_info
        else:
            yield (name,), info


def _names(info: FieldInfo) -> tuple[str, ...]:
    extra = info.json_schema_extra
    return tuple(extra["env"]) if isinstance(extra, dict) else ()  # type: ignore[arg-type]


#: Every setting: its path in :class:`Settings` -> the variables it is read from.
VARIABLES: dict[Key, tuple[str, ...]] = {path: _names(info) for path, info in _fields()}
#: Flat name -> path (``drift_alpha`` -> ``("drift", "alpha")``).
FLAT: dict[str, Key] = {
    names[0].removeprefix(PREFIX).lower(): path for path, names in VARIABLES.items()
}


def read_variables(
    environ: Mapping[str, str], dotenv: Mapping[str, str | None]
) -> tuple[dict[str, Any], dict[Key, str]]:
    """The nested values found in ``environ``, then ``dotenv``, and which variable each
    came from. Within one source a setting's first listed name wins."""
    values: dict[str, Any] = {}
    origins: dict[Key, str] = {}
    for path, names in VARIABLES.items():
        for source in (environ, dotenv):
            found = next((n for n in names if source.get(n) is not None), None)
            if found is not None:
                _put(values, path, source[found])
                origins[path] = found
                break
    return values, origins


class NamedVariables(PydanticBaseSettingsSource):
    """The settings source: exactly the listed variables, from the environment and
    ``.env`` (see :func:`read_variables`)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        return read_variables(os.environ, _dotenv())[0]


def _dotenv() -> dict[str, str | None]:
    return dotenv_values(ENV_FILE) if Path(ENV_FILE).is_file() else {}


def _put(target: dict[str, Any], path: Key, value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Flat names -> the nested form :class:`Settings` takes; unknown names: ConfigError."""
    unknown = sorted(set(flat) - set(FLAT))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, value in flat.items():
        _put(out, FLAT[name], value)
    return out


def _config_error(exc: ValidationError, origins: Mapping[Key, str]) -> ConfigError:
    lines = []
    for err in exc.errors():
        path = tuple(str(part) for part in err["loc"])
        names = VARIABLES.get(path)
        where = origins.get(path) or (names[0] if names else ".".join(path) or "settings")
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f"={value!r}"
        lines.append(f"{where}{shown}: {err['msg']}")
    return ConfigError("invalid settings: " + "; ".join(lines))


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings (``overrides`` by flat name win over the
    environment); raise ConfigError with one line per bad value."""
    try:
        return Settings(**nest(overrides))
    except ValidationError as exc:
        _, origins = read_variables(os.environ, _dotenv())
        raise _config_error(exc, origins) from exc
