#!/usr/bin/env bash
# One PostgreSQL server, one database and owner per component (first start only).
set -euo pipefail
create() {
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE USER $1 WITH PASSWORD '$2';
CREATE DATABASE $1 OWNER $1;
SQL
}
create mlflow "$MLFLOW_DB_PASSWORD"
create airflow "$AIRFLOW_DB_PASSWORD"
create champion "$CHAMPION_DB_PASSWORD"
