"""Settings: every knob of champion, read from the environment and validated at start-up.

Each setting is read from ``CHAMPION_<NAME>``; the names that users of the original
pipelines already set (``MODEL_NAME``, ``MLFLOW_TRACKING_URI``, ``TRAIN_PATH``,
``CURRENT_PATH``, ``DRIFT_THRESHOLD``, ``PSI_THRESHOLD``, ``KS_PVALUE_THRESHOLD``,
``AB_SPLIT_B``, ``AB_LOG_PATH``, ``EXPERIMENT_NAME``, ``COMPARISON_NAME``,
``MLFLOW_LOG``) are accepted as aliases. A ``.env`` file in the working directory is
read too. :func:`load_settings` turns every invalid value into one line of a
:class:`~champion.errors.ConfigError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from champion.errors import ConfigError

DriftRuleName = Literal["any", "mean_psi", "share"]


def _env(name: str, *legacy: str) -> AliasChoices:
    """Accept ``CHAMPION_<NAME>`` first, then the legacy names, then the field name."""
    return AliasChoices(f"CHAMPION_{name.upper()}", *legacy, name)


class Settings(BaseSettings):
    """All of champion's configuration. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        case_sensitive=False,
    )

    # -- where things live ---------------------------------------------------------
    home: Path = Field(
        Path("champion-data"),
        validation_alias=_env("home"),
        description="Working directory of the embedded mode (MLflow store, event log).",
    )
    model_name: str = Field(
        "champion-model",
        min_length=1,
        validation_alias=_env("model_name", "MODEL_NAME"),
        description="Registered model name in the MLflow registry.",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias=_env("mlflow_tracking_uri", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI; default: an embedded SQLite store under `home`.",
    )
    experiment_name: str = Field(
        "champion-training",
        min_length=1,
        validation_alias=_env("experiment_name", "EXPERIMENT_NAME"),
    )
    comparison_name: str = Field(
        "champion-ab-comparison",
        min_length=1,
        validation_alias=_env("comparison_name", "COMPARISON_NAME"),
    )
    mlflow_log: bool = Field(True, validation_alias=_env("mlflow_log", "MLFLOW_LOG"))
    mlflow_username: str | None = Field(
        None,
        validation_alias=_env("mlflow_username", "MLFLOW_TRACKING_USERNAME"),
        description="User for an MLflow server with basic auth.",
    )
    mlflow_password: SecretStr | None = Field(
        None,
        validation_alias=_env("mlflow_password", "MLFLOW_TRACKING_PASSWORD"),
        description="Password for an MLflow server with basic auth (never logged).",
    )
    registry_cache_ttl: float = Field(
        30.0,
        ge=0,
        validation_alias=_env("registry_cache_ttl"),
        description="Seconds an alias lookup is cached (a lookup over HTTP costs ~0.5 s).",
    )
    mlflow_wait: float = Field(
        0.0,
        ge=0,
        validation_alias=_env("mlflow_wait"),
        description=(
            "Seconds to keep retrying an unreachable tracking server before failing: when a "
            "step connects, and when a finished training logs and registers its model."
        ),
    )
    actor: str | None = Field(
        None,
        validation_alias=_env("actor"),
        description="Who is recorded for alias moves; default: user@host.",
    )
    train_path: Path | None = Field(None, validation_alias=_env("train_path", "TRAIN_PATH"))
    current_path: Path | None = Field(None, validation_alias=_env("current_path", "CURRENT_PATH"))
    ab_log_path: Path | None = Field(
        None,
        validation_alias=_env("ab_log_path", "AB_LOG_PATH"),
        description="SQLite file of the prediction log; default: `home`/events.db.",
    )

    # -- drift -----------------------------------------------------------------------
    drift_rule: DriftRuleName = Field("any", validation_alias=_env("drift_rule"))
    drift_threshold: float = Field(
        0.2,
        gt=0,
        validation_alias=_env("drift_threshold", "DRIFT_THRESHOLD"),
        description="Rule mean_psi: drift when the mean PSI over features is above this.",
    )
    psi_threshold: float = Field(
        0.2,
        gt=0,
        validation_alias=_env("psi_threshold", "PSI_THRESHOLD"),
        description="A feature whose PSI is above this has drifted, whatever its p-value.",
    )
    drift_alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        validation_alias=_env("drift_alpha", "KS_PVALUE_THRESHOLD"),
        description="Significance level of the per-feature KS / chi-square tests.",
    )
    drift_share: float = Field(
        0.5,
        gt=0,
        le=1,
        validation_alias=_env("drift_share"),
        description="Rule share: drift when at least this share of features drifted.",
    )
    drift_bins: int = Field(10, ge=2, le=1000, validation_alias=_env("drift_bins"))
    drift_window: int = Field(
        2000,
        ge=10,
        validation_alias=_env("drift_window"),
        description="Latest served rows the drift check compares with the reference.",
    )
    retrain_rows: int = Field(
        5000,
        ge=10,
        validation_alias=_env("retrain_rows"),
        description="Latest labelled rows a drift-triggered retraining learns from.",
    )
    retrain_min_rows: int = Field(
        200,
        ge=10,
        validation_alias=_env("retrain_min_rows"),
        description="Fewer labelled rows than this: retraining waits for more labels.",
    )
    ks_floor: float = Field(0.05, ge=0, le=1, validation_alias=_env("ks_floor"))
    psi_floor: float = Field(0.02, ge=0, validation_alias=_env("psi_floor"))
    drift_correction: Literal["bonferroni", "none"] = Field(
        "bonferroni", validation_alias=_env("drift_correction")
    )

    # -- training ------------------------------------------------------------------------
    train_budget: float = Field(
        30.0, gt=0, validation_alias=_env("train_budget"), description="Search seconds."
    )
    train_metric: str | None = Field(
        None,
        validation_alias=_env("train_metric"),
        description="Selection metric; default recall (classification) or mae (regression).",
    )
    cv_folds: int = Field(5, ge=2, le=20, validation_alias=_env("cv_folds"))
    precision_tolerance: float = Field(
        0.05,
        ge=0,
        le=1,
        validation_alias=_env("precision_tolerance"),
        description="Recall selection: precision that may be given up for recall.",
    )

    # -- A/B ---------------------------------------------------------------------------
    ab_split_b: float = Field(
        0.5,
        ge=0,
        le=1,
        validation_alias=_env("ab_split_b", "AB_SPLIT_B"),
        description="Share of traffic routed to the challenger (hash and random modes).",
    )

    ab_mode: Literal["hash", "random", "shadow", "off"] = Field(
        "hash",
        validation_alias=_env("ab_mode"),
        description="Routing when no A/B configuration is stored yet.",
    )
    ab_alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        validation_alias=_env("ab_alpha"),
        description="Two-sided level of the anytime-valid confidence sequence.",
    )
    ab_planned_labels: int = Field(
        10_000,
        ge=10,
        validation_alias=_env("ab_planned_labels"),
        description="N*: labelled rows where the sequence is tightest (a planning guess).",
    )
    ab_min_labelled: int = Field(
        200, ge=2, validation_alias=_env("ab_min_labelled"), description="Per arm, to decide."
    )
    ab_max_labelled: int = Field(
        40_000,
        ge=3,
        validation_alias=_env("ab_max_labelled"),
        description="Horizon: labelled rows after which an undecided challenger is rejected.",
    )
    ab_promote_margin: float = Field(
        0.0,
        ge=0,
        validation_alias=_env("ab_promote_margin"),
        description="Promote when the lower bound of B - A (per-row score) exceeds this.",
    )
    ab_precision_margin: float = Field(0.02, ge=0, validation_alias=_env("ab_precision_margin"))
    ab_recall_margin: float = Field(0.02, ge=0, validation_alias=_env("ab_recall_margin"))
    ab_error_rate_margin: float = Field(0.01, ge=0, validation_alias=_env("ab_error_rate_margin"))
    ab_latency_margin_ms: float = Field(25.0, ge=0, validation_alias=_env("ab_latency_margin_ms"))

    # -- serving -----------------------------------------------------------------------
    database_url: str | None = Field(
        None,
        validation_alias=_env("database_url"),
        description="Prediction log: sqlite:///PATH or postgresql://...; default: events_path.",
    )
    admin_token: SecretStr | None = Field(
        None,
        validation_alias=_env("admin_token"),
        description="Bearer token of the admin endpoints (A/B config); unset: they refuse.",
    )
    poll_interval: float = Field(
        5.0,
        gt=0,
        validation_alias=_env("poll_interval"),
        description="Seconds between checks of the registry aliases and the A/B config.",
    )
    max_batch_items: int = Field(1000, ge=1, validation_alias=_env("max_batch_items"))
    max_body_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        validation_alias=_env("max_body_bytes"),
        description="Largest request body the API reads; larger ones are refused with 413.",
    )
    gil_switch_interval: float = Field(
        0.0005,
        gt=0,
        le=0.1,
        validation_alias=_env("gil_switch_interval"),
        description="sys.setswitchinterval of the API process (measured best: 0.5 ms).",
    )

    # -- seeds -------------------------------------------------------------------------
    seed: int = Field(42, ge=0, validation_alias=_env("seed"))

    @model_validator(mode="after")
    def _paths_exist(self) -> Settings:
        for name in ("train_path", "current_path"):
            path = getattr(self, name)
            if path is not None and not Path(path).exists():
                raise ValueError(f"{name.upper()}={path} does not exist")
        return self

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
        import getpass
        import socket

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


def _field_env_name(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "settings"
    name = str(loc[0])
    field = Settings.model_fields.get(name)
    if field is not None and isinstance(field.validation_alias, AliasChoices):
        choices = [c for c in field.validation_alias.choices if isinstance(c, str)]
        legacy = [c for c in choices if c.isupper() and not c.startswith("CHAMPION_")]
        return legacy[0] if legacy else choices[0]
    return name


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise ConfigError with one line per bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f"={value!r}"
            lines.append(f"{_field_env_name(tuple(err['loc']))}{shown}: {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(lines)) from exc
