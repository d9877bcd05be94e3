#!/usr/bin/env sh
# Writes the basic-auth configuration from the environment, then starts the server.
set -eu
cat > /home/mlflow/basic_auth.ini <<INI
[mlflow]
default_permission = READ
database_uri = ${MLFLOW_AUTH_DATABASE_URI}
admin_username = ${MLFLOW_ADMIN_USER}
admin_password = ${MLFLOW_ADMIN_PASSWORD}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
export MLFLOW_AUTH_CONFIG_PATH=/home/mlflow/basic_auth.ini
# the backend store URI (with its password) is read from MLFLOW_BACKEND_STORE_URI by
# mlflow itself: no credential on the command line, where ps would show it
exec mlflow server \
    --app-name basic-auth \
    --host 0.0.0.0 --port 5000 \
    --artifacts-destination "s3://${MLFLOW_BUCKET}/artifacts" \
    --serve-artifacts \
    --workers "${MLFLOW_WORKERS:-2}"
