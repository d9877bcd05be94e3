"""log_retention: archive the predictions older than CHAMPION_LOG_RETENTION_DAYS to
Parquet at CHAMPION_LOG_ARCHIVE_TO, then delete them from the log (daily).

A thin shell over ``champion.orchestration.tasks.retention``: a row leaves the log only
once its file is written and read back equal; a run that stops is finished by the next.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from champion.orchestration.options import dag_options


@dag(dag_id="log_retention", **dag_options("CHAMPION_RETENTION_SCHEDULE", "@daily"), doc_md=__doc__)
def log_retention() -> None:
    @task
    def archive() -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.retention()

    archive()


log_retention()
