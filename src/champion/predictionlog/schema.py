"""Tables of the prediction log (SQLAlchemy Core), versioned by the app.

The database is created and upgraded by :func:`champion.predictionlog.store.EventStore.migrate`
(run at start-up); ``champion_schema`` holds the version. API schemas are separate
(``champion.serving.schemas``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

#: 2: failures; 3: both models' answers, the phase; 4: scoped by model; 5: label sources;
#: 6: the A/B evaluation's running sums (ab_state, ab_unit_sums), labels indexed by arrival;
#: 7: each label carries its prediction's time; PostgreSQL partitions both tables by day;
#: 8: the live report's running counts (ab_report_state), the drift checks' record;
#: 9: the notifications' outbox and delivery log, the registry signal (instant reload)
SCHEMA_VERSION = 9
metadata = MetaData()

schema_version = Table(
    "champion_schema",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)


def _predictions(meta: MetaData, *, partitioned: bool) -> Table:
    return Table(
        "predictions",
        meta,
        Column("request_id", String(36), primary_key=True),
        # PostgreSQL partitions by day of created_at: a partition's key is part of its PK
        Column("created_at", DateTime(timezone=True), nullable=False, primary_key=partitioned),
        Column("experiment_id", String(64), nullable=False),
        Column("user_id", String(256)),
        Column("variant", String(16), nullable=False),  # A (champion) | B (challenger)
        Column("model_name", String(256), nullable=False),
        Column("model_version", String(32), nullable=False),
        Column("features", Text, nullable=False),  # JSON object
        Column("prediction", Text, nullable=False),  # JSON scalar
        Column("prediction_num", Float),  # numeric form (regression / numeric labels)
        Column("probability", Float),  # classifiers: P(positive) binary, P(predicted) multiclass
        Column("latency_ms", Float, nullable=False),  # the whole request, commit included
        Column("phase", Integer),  # the A/B configuration in force (a new one per split change)
        # Both models score every request while both are loaded: each one's answer on the
        # row (the answered columns above repeat the one the user got).
        *(
            column
            for arm in ("a", "b")
            for column in (
                Column(f"version_{arm}", String(32)),  # None: the model did not take the row
                Column(f"prediction_{arm}", Text),  # JSON scalar; None: it failed
                Column(f"prediction_{arm}_num", Float),
                Column(f"probability_{arm}", Float),
                Column(f"latency_{arm}_ms", Float),  # its model call
                Column(f"failed_{arm}", Integer),  # 1: it took the row and failed
            )
        ),
        Index("ix_predictions_experiment_created", "experiment_id", "created_at"),
        Index("ix_predictions_created", "created_at"),
        Index("ix_predictions_model_experiment", "model_name", "experiment_id", "created_at"),
        Index("ix_predictions_model_created", "model_name", "created_at"),
        **({"postgresql_partition_by": "RANGE (created_at)"} if partitioned else {}),
    )


def _feedback(meta: MetaData, *, partitioned: bool) -> Table:
    if partitioned:  # partitioned beside its prediction: a day's labels go with its rows
        key: tuple[Any, ...] = (
            ForeignKeyConstraint(
                ["request_id", "predicted_at"],
                ["predictions.request_id", "predictions.created_at"],
                ondelete="CASCADE",
            ),
        )
    else:
        key = ()
    return Table(
        "feedback",
        meta,
        Column(
            "request_id",
            String(36),
            *(() if partitioned else (ForeignKey("predictions.request_id", ondelete="CASCADE"),)),
            primary_key=True,
        ),
        Column("label", Text, nullable=False),  # JSON scalar
        Column("label_num", Float),
        Column("received_at", DateTime(timezone=True), nullable=False),
        # which credential posted it ("feedback", "admin"; "unverified": before labels needed one)
        Column("source", String(32)),
        # its prediction's created_at (None only in SQLite logs from before schema 7)
        Column("predicted_at", DateTime(timezone=True), primary_key=partitioned),
        *key,
        Index("ix_feedback_received", "received_at"),
        **({"postgresql_partition_by": "RANGE (predicted_at)"} if partitioned else {}),
    )


predictions = _predictions(metadata, partitioned=False)
feedback = _feedback(metadata, partitioned=False)

#: How PostgreSQL logs hold the two big tables: partitioned by day
#: (champion.predictionlog.partitions). Same columns: every query works on either.
partitioned = MetaData()
_predictions(partitioned, partitioned=True)
_feedback(partitioned, partitioned=True)

ab_config = Table(
    "ab_config",
    metadata,
    Column("id", Integer, primary_key=True),  # one row per change; the latest is in force
    Column("model_name", String(256)),  # whose experiment (one log may serve several models)
    Column("experiment_id", String(64), nullable=False),
    Column("mode", String(16), nullable=False),  # hash | random | shadow | off
    Column("split_b", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("note", Text, nullable=False, default=""),
)

failures = Table(
    "failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("model_name", String(256)),
    Column("experiment_id", String(64), nullable=False),
    Column("variant", String(16), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("requests", Integer, nullable=False),  # requests that failed together
    Column("error", Text, nullable=False),
    Index("ix_failures_experiment", "experiment_id"),
)

# The A/B evaluation's running sums: what the looks so far have added up, so a look reads
# only the rows and labels that arrived since (champion.predictionlog.look_state). A cache:
# dropping these rows costs one full pass at the next look, never a wrong decision.
ab_state = Table(
    "ab_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_name", String(256), nullable=False),
    Column("experiment_id", String(64), nullable=False),
    Column("champion", String(32), nullable=False),
    Column("challenger", String(32), nullable=False),
    Column("signature", Text, nullable=False),  # JSON: what the sums are sums of
    Column("upto", Float, nullable=False),  # rows with every time key up to this are in
    Column("totals", Text, nullable=False),  # JSON: track -> (k, n, s, ss, sn, nn)
    Column("figures", Text, nullable=False),  # JSON: per-arm counts and histograms
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_ab_state_trial", "model_name", "experiment_id", "champion", "challenger"),
)

ab_unit_sums = Table(
    "ab_unit_sums",
    metadata,
    Column("state_id", Integer, ForeignKey("ab_state.id", ondelete="CASCADE"), primary_key=True),
    Column("track", Integer, primary_key=True),
    Column("unit", String(600), primary_key=True),  # "<phase>:u:<user>" or "<phase>:r:<id>"
    Column("n", Float, nullable=False),
    Column("s", Float, nullable=False),
)

# The live report's running counts per experiment (champion.predictionlog.live_report):
# a cache like ab_state — dropping a row costs one pass over the experiment, nothing else.
ab_report_state = Table(
    "ab_report_state",
    metadata,
    Column("model_name", String(256), primary_key=True),
    Column("experiment_id", String(64), primary_key=True),
    Column("upto", Float, nullable=False),  # rows served and labels received up to this
    Column("served", Float, nullable=False),  # the experiment's rows up to upto (backfills)
    Column("counts", Text, nullable=False),  # JSON: variant -> counts and sums
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every scheduled drift check of a reference (champion.predictionlog.drift_checks): its
# place in the reference's life sets the share of alpha it spends, so the record is what
# keeps the lifetime false-alarm bound; also the history the reports chart.
drift_checks = Table(
    "drift_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_name", String(256), nullable=False),
    Column("reference", String(64), nullable=False),  # the reference's MLflow run id
    Column("check_number", Integer, nullable=False),  # 1, 2, ... within the reference
    Column("champion", String(32), nullable=False),  # the version whose reference it is
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("drifted", Integer, nullable=False),
    Column("alpha_check", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("features", Text, nullable=False),  # JSON: name -> test, p-value, PSI, drifted
    UniqueConstraint("model_name", "reference", "check_number", name="uq_drift_checks_number"),
)

# Every notification to every webhook target (champion.predictionlog.notifications): the
# outbox (a row is written before it is sent, so a crash between the two loses nothing)
# and the delivery log. One event noticed by several API workers is one row per target:
# the unique key lets the first writer send it and the others skip it.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_name", String(256), nullable=False),
    Column("event_key", String(256), nullable=False),
    Column("target", String(32), nullable=False),  # digest of the URL: no secret stored
    Column("destination", String(300), nullable=False),  # scheme://host/… for people
    Column("kind", String(32), nullable=False),
    Column("event", Text, nullable=False),  # JSON: the event (the body is built per target)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),  # NULL: delivered or given up
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_status", Integer),  # the HTTP status of the last attempt
    Column("last_error", Text),
    UniqueConstraint("model_name", "event_key", "target", name="uq_notifications_event"),
    Index("ix_notifications_due", "next_attempt_at"),
)

# One row per model: bumped when the registry says an alias moved (an MLflow webhook
# reached one API worker); every worker checks it between polls and reloads at once.
registry_signal = Table(
    "registry_signal",
    metadata,
    Column("model_name", String(256), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("detail", String(300), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
