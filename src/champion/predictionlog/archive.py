"""Retention: old rows of the prediction log to Parquet, then out of the database.

``champion log archive --before DATE --to DIR|s3://bucket/prefix`` writes each model's
rows of each UTC day before ``DATE`` — predictions with their labels — to
``model=<name>/day=<YYYY-MM-DD>/part-<n>.parquet`` under the target, and removes them
from the log only once the file is in the target and reads back equal: same row count,
same SHA-256 over the request ids in order, same labelled rows, same SHA-256 of the file.
On SQLite (and for a day that keeps rows) each part's rows are deleted in one
transaction; on a partitioned PostgreSQL log a day whose every row was archived leaves
as its two partitions, detached and dropped together (champion.predictionlog.partitions).
A label that arrives while its day is archived stops the removal, never goes unarchived.
A ``manifest.json`` beside the parts records each part; a run that stopped anywhere is
resumed by running it again (a part whose rows are all still in the log is written
again; nothing is archived twice). Rows of the experiment a model is running stay in
the log until it ends (its evaluation reads them). Streams in batches: memory does not
grow with a day's rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import and_, delete, func, select, text

from champion.errors import BackendError, ConflictError, InvalidInputError
from champion.predictionlog import partitions
from champion.predictionlog.schema import ab_config, feedback, predictions

BATCH_ROWS = 20_000
DELETE_CHUNK = 5_000

_STRING = ("request_id", "experiment_id", "user_id", "variant", "model_name", "model_version")
SCHEMA = pa.schema(
    [
        *(pa.field(name, pa.string()) for name in _STRING),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("features", pa.string()),
        pa.field("prediction", pa.string()),
        pa.field("prediction_num", pa.float64()),
        pa.field("probability", pa.float64()),
        pa.field("latency_ms", pa.float64()),
        pa.field("phase", pa.int64()),
        *(
            field
            for arm in ("a", "b")
            for field in (
                pa.field(f"version_{arm}", pa.string()),
                pa.field(f"prediction_{arm}", pa.string()),
                pa.field(f"prediction_{arm}_num", pa.float64()),
                pa.field(f"probability_{arm}", pa.float64()),
                pa.field(f"latency_{arm}_ms", pa.float64()),
                pa.field(f"failed_{arm}", pa.int64()),
            )
        ),
        pa.field("label", pa.string()),
        pa.field("label_num", pa.float64()),
        pa.field("labelled_at", pa.timestamp("us", tz="UTC")),
        pa.field("label_source", pa.string()),
    ]
)


@dataclass(frozen=True)
class Partition:
    model_name: str
    day: date
    rows: int

    @property
    def prefix(self) -> str:
        return f"model={quote(self.model_name, safe='')}/day={self.day.isoformat()}"


@dataclass(frozen=True)
class Part:
    """One archived file and what it holds."""

    file: str
    rows: int
    sha256: str  # of the file
    ids_sha256: str  # of the request ids, in order
    labels: int | None = None  # rows with a label (None: written before labels were counted)


@dataclass(frozen=True)
class PartitionOutcome:
    partition: Partition
    status: str  # archived | resumed | would archive
    part: Part | None


@dataclass(frozen=True)
class ArchiveResult:
    before: datetime
    target: str
    dry_run: bool
    partitions: tuple[PartitionOutcome, ...]
    kept_running: tuple[str, ...]  # experiments left in the log: they are running
    dropped: tuple[str, ...] = ()  # PostgreSQL day partitions detached and dropped

    @property
    def rows(self) -> int:
        return sum(p.partition.rows for p in self.partitions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.isoformat(),
            "target": self.target,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "kept_running": list(self.kept_running),
            "dropped_partitions": list(self.dropped),
            "partitions": [
                {
                    "model": p.partition.model_name,
                    "day": p.partition.day.isoformat(),
                    "rows": p.partition.rows,
                    "status": p.status,
                    "file": p.part.file if p.part else None,
                }
                for p in self.partitions
            ],
        }


# -- where the files go -----------------------------------------------------------------
class Target:
    """A directory or an S3 prefix: write a local file under a key, read it back."""

    def __init__(self, where: str) -> None:
        self.where = where.rstrip("/")
        self.s3 = where.startswith("s3://")
        if self.s3:
            bucket, _, prefix = where.removeprefix("s3://").partition("/")
            if not bucket:
                raise InvalidInputError(f"--to {where}: no bucket (s3://bucket/prefix)")
            import boto3

            endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get(
                "MLFLOW_S3_ENDPOINT_URL"
            )
            self.client = boto3.client("s3", endpoint_url=endpoint)
            self.bucket, self.prefix = bucket, prefix.strip("/")
        else:
            self.root = Path(where)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def url(self, key: str) -> str:
        return f"{self.where}/{key}"

    def put(self, local: Path, key: str) -> None:
        try:
            self._put(local, key)
        except Exception as exc:  # OSError, botocore's errors: the rows stay in the log
            raise BackendError(f"cannot write {self.url(key)}: {exc}") from exc

    def _put(self, local: Path, key: str) -> None:
        if self.s3:
            self.client.upload_file(str(local), self.bucket, self._key(key))
            return
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        shutil.copyfile(local, tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)

    def fetch(self, key: str, local: Path) -> bool:
        """Copy ``key`` to ``local``; False when it does not exist."""
        try:
            return self._fetch(key, local)
        except Exception as exc:
            raise BackendError(f"cannot read {self.url(key)}: {exc}") from exc

    def _fetch(self, key: str, local: Path) -> bool:
        if self.s3:
            from botocore.exceptions import ClientError

            try:
                self.client.download_file(self.bucket, self._key(key), str(local))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    return False
                raise
            return True
        path = self.root / key
        if not path.exists():
            return False
        shutil.copyfile(path, local)
        return True


# -- reading the log -------------------------------------------------------------------
def _day_bounds(day: date, before: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, min(start + timedelta(days=1), before)


def _running(conn: Any) -> dict[str, str]:
    """Each model's experiment in force (mode not off): model -> experiment id."""
    latest = (
        select(ab_config.c.model_name, func.max(ab_config.c.id).label("id"))
        .group_by(ab_config.c.model_name)
        .subquery()
    )
    query = select(ab_config.c.model_name, ab_config.c.experiment_id, ab_config.c.mode).join(
        latest, ab_config.c.id == latest.c.id
    )
    return {m: e for m, e, mode in conn.execute(query) if mode != "off"}


def _scope(model: str, start: datetime, end: datetime, running: dict[str, str]) -> Any:
    p = predictions.c
    cond = and_(p.model_name == model, p.created_at >= start, p.created_at < end)
    if model in running:
        cond = and_(cond, p.experiment_id != running[model])
    return cond


def _partitions(conn: Any, before: datetime, running: dict[str, str]) -> list[Partition]:
    p = predictions.c
    if conn.dialect.name == "postgresql":
        day = func.to_char(func.timezone("UTC", p.created_at), "YYYY-MM-DD")
    else:
        day = func.substr(p.created_at, 1, 10)
    query = (
        select(p.model_name, p.experiment_id, day.label("day"), func.count())
        .where(p.created_at < before)
        .group_by(p.model_name, p.experiment_id, day)
    )
    counts: dict[tuple[str, date], int] = {}
    for model, experiment, text_day, n in conn.execute(query):
        if running.get(model) == experiment:
            continue
        key = (model, date.fromisoformat(text_day))
        counts[key] = counts.get(key, 0) + int(n)
    return [Partition(m, d, n) for (m, d), n in sorted(counts.items())]


def _batches(conn: Any, scope: Any) -> Iterator[pa.RecordBatch]:
    f = feedback.c
    columns = [
        *predictions.c,
        f.label,
        f.label_num,
        f.received_at.label("labelled_at"),
        f.source.label("label_source"),
    ]
    query = (
        select(*columns)
        .select_from(predictions.outerjoin(feedback, predictions.c.request_id == f.request_id))
        .where(scope)
        .order_by(predictions.c.request_id)
        .execution_options(stream_results=True, yield_per=BATCH_ROWS)
    )
    result = conn.execute(query)
    names = SCHEMA.names
    for chunk in result.partitions(BATCH_ROWS):
        data = {name: [] for name in names}
        for row in chunk:
            mapping = row._mapping
            for name in names:
                value = mapping[name]
                if isinstance(value, datetime) and value.tzinfo is None:
                    value = value.replace(tzinfo=UTC)
                data[name].append(value)
        yield pa.RecordBatch.from_pydict(data, schema=SCHEMA)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_ids(digest: Any, ids: list[str]) -> None:
    for value in ids:
        digest.update(value.encode() + b"\n")


def _write_part(conn: Any, scope: Any, local: Path) -> tuple[int, str, int]:
    """Stream the scope's rows into a Parquet file; returns rows, the ids' digest and
    how many rows have a label."""
    digest, count, labels = hashlib.sha256(), 0, 0
    with pq.ParquetWriter(local, SCHEMA, compression="zstd") as writer:
        for batch in _batches(conn, scope):
            writer.write_batch(batch)
            _hash_ids(digest, batch.column("request_id").to_pylist())
            count += batch.num_rows
            labels += batch.num_rows - batch.column("label").null_count
    return count, digest.hexdigest(), labels


def _fetch(target: Target, key: str, work: Path) -> Path:
    """The archived file as the target holds it, copied here once."""
    local = work / "check.parquet"
    if not target.fetch(key, local):
        raise BackendError(f"{target.url(key)} is listed in its manifest but missing")
    return local


def _file_ids(local: Path) -> Iterator[list[str]]:
    """The request ids of an archived file, in chunks."""
    source = pq.ParquetFile(local)
    for batch in source.iter_batches(columns=["request_id"], batch_size=DELETE_CHUNK):
        yield batch.column("request_id").to_pylist()


def _read_back(local: Path) -> tuple[int, str, str, int]:
    """An archived file's rows, ids digest, file digest and labelled rows."""
    digest, rows, labels = hashlib.sha256(), 0, 0
    source = pq.ParquetFile(local)
    for batch in source.iter_batches(columns=["request_id", "label"], batch_size=DELETE_CHUNK):
        _hash_ids(digest, batch.column("request_id").to_pylist())
        rows += batch.num_rows
        labels += batch.num_rows - batch.column("label").null_count
    return rows, digest.hexdigest(), _file_sha256(local), labels


def _still_logged(conn: Any, chunks: Iterator[list[str]]) -> int:
    p = predictions.c
    return sum(
        int(conn.execute(select(func.count()).where(p.request_id.in_(ids))).scalar_one())
        for ids in chunks
    )


def _delete(conn: Any, chunks: Iterator[list[str]], part: Part) -> None:
    """Delete exactly the archived rows (and their labels), in one transaction; a label
    that arrived after the part was written stops it (the next run writes it again)."""
    gone, labels = 0, 0
    for ids in chunks:
        labels += conn.execute(delete(feedback).where(feedback.c.request_id.in_(ids))).rowcount
        gone += conn.execute(delete(predictions).where(predictions.c.request_id.in_(ids))).rowcount
    if gone != part.rows:
        raise ConflictError(
            f"{gone} of the archived partition's {part.rows} rows were in the log at deletion: "
            "nothing deleted"
        )
    if part.labels is not None and labels != part.labels:
        raise ConflictError(
            f"{labels - part.labels} label(s) arrived while {part.file} was written: nothing "
            "deleted; run the archive again"
        )


def _load_manifest(target: Target, prefix: str, work: Path) -> list[Part]:
    local = work / "manifest.json"
    if not target.fetch(f"{prefix}/manifest.json", local):
        return []
    return [Part(**part) for part in json.loads(local.read_text())["parts"]]


def _save_manifest(target: Target, prefix: str, parts: list[Part], work: Path) -> None:
    local = work / "manifest.json"
    local.write_text(json.dumps({"parts": [p.__dict__ for p in parts]}, indent=1))
    target.put(local, f"{prefix}/manifest.json")


def _verify(target: Target, part: Part, local: Path) -> None:
    """The part (``local``: as fetched from the target) reads back as it was written."""
    rows, ids, sha, labels = _read_back(local)
    if (rows, ids, sha) != (part.rows, part.ids_sha256, part.sha256) or labels != part.labels:
        raise BackendError(f"{target.url(part.file)} does not read back as written: kept the rows")


def _archive_partition(
    engine: Any, target: Target, partition: Partition, before: datetime,
    running: dict[str, str], work: Path, *, delete_rows: bool = True,
) -> PartitionOutcome:  # fmt: skip
    """Write one model's rows of one day as a part, verify it, and (``delete_rows``)
    delete them; otherwise the caller drops the whole day's partition."""
    start, end = _day_bounds(partition.day, before)
    scope = _scope(partition.model_name, start, end, running)
    parts, status = _load_manifest(target, partition.prefix, work), "archived"
    if parts:  # a run stopped after writing its last part
        last = _fetch(target, parts[-1].file, work)
        with engine.connect() as conn:
            pending = _still_logged(conn, _file_ids(last))
        if pending == _read_back(last)[0]:  # none of it deleted: write it again, fresh
            parts, status = parts[:-1], "resumed"
        elif pending:
            raise ConflictError(
                f"{target.url(parts[-1].file)}: {pending} of its {parts[-1].rows} rows are "
                "still in the log; check the archive before running again"
            )
    local = work / "part.parquet"
    with engine.connect() as conn:
        rows, ids, labels = _write_part(conn, scope, local)
    name = f"{partition.prefix}/part-{len(parts)}.parquet"
    part = Part(name, rows, _file_sha256(local), ids, labels)
    target.put(local, part.file)
    _save_manifest(target, partition.prefix, [*parts, part], work)
    fetched = _fetch(target, part.file, work)
    _verify(target, part, fetched)
    if delete_rows:
        with engine.begin() as conn:
            _delete(conn, _file_ids(fetched), part)
    return PartitionOutcome(Partition(partition.model_name, partition.day, rows), status, part)


def _day_tables(engine: Any) -> dict[date, partitions.DayPartition]:
    """A partitioned PostgreSQL log's one-day partitions (none elsewhere)."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as conn:
        return partitions.day_partitions(conn) if partitions.is_partitioned(conn) else {}


def _whole_day(
    engine: Any, whole: partitions.DayPartition | None, before: datetime, found: list[Partition]
) -> partitions.DayPartition | None:
    """The day's partition when every row in it is to be archived."""
    if whole is None or whole.start + timedelta(days=1) > before:
        return None
    with engine.connect() as conn:
        held = conn.execute(text(f"SELECT count(*) FROM {whole.predictions}")).scalar_one()
    return whole if held == sum(p.rows for p in found) else None


def _drop_day(engine: Any, whole: partitions.DayPartition, done: list[PartitionOutcome]) -> None:
    """Drop a day's partitions once they hold exactly what its parts archived."""
    rows = sum(o.part.rows for o in done if o.part)
    labels = sum(o.part.labels or 0 for o in done if o.part)
    with engine.begin() as conn:
        names = ", ".join(n for n in (whole.predictions, whole.feedback) if n)
        conn.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
        held = conn.execute(text(f"SELECT count(*) FROM {whole.predictions}")).scalar_one()
        held_labels = (
            conn.execute(text(f"SELECT count(*) FROM {whole.feedback}")).scalar_one()
            if whole.feedback
            else 0
        )
        if (held, held_labels) != (rows, labels):
            raise ConflictError(
                f"{whole.predictions} changed while it was archived ({held} rows and "
                f"{held_labels} labels, {rows} and {labels} archived): nothing dropped; "
                "run the archive again"
            )
        partitions.drop(conn, whole)


def archive(
    engine: Any,
    *,
    before: datetime,
    to: str,
    dry_run: bool = False,
    progress: Callable[[PartitionOutcome], None] | None = None,
) -> ArchiveResult:
    """Archive and delete every row served before ``before`` (see the module docstring)."""
    if before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    if before > datetime.now(UTC):
        raise InvalidInputError(f"--before {before.isoformat()} is in the future")
    target = Target(to)
    with engine.connect() as conn:
        running = _running(conn)
        found = _partitions(conn, before, running)
    kept = tuple(f"{m}: {e}" for m, e in sorted(running.items()))
    if dry_run:
        outcomes = tuple(PartitionOutcome(p, "would archive", None) for p in found)
        return ArchiveResult(before, to, True, outcomes, kept)
    done: list[PartitionOutcome] = []
    dropped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="champion-archive-") as tmp:
        tables = _day_tables(engine)
        for day in sorted({p.day for p in found}):
            of_day = [p for p in found if p.day == day]
            whole = _whole_day(engine, tables.get(day), before, of_day)
            outcomes = []
            for partition in of_day:
                outcome = _archive_partition(
                    engine, target, partition, before, running, Path(tmp),
                    delete_rows=whole is None,
                )  # fmt: skip
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
            if whole is not None:
                _drop_day(engine, whole, outcomes)
                dropped.append(whole.predictions)
            done.extend(outcomes)
    return ArchiveResult(before, to, False, tuple(done), kept, tuple(dropped))
