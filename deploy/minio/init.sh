#!/bin/sh
# One shot after MinIO starts: the artifact bucket, and MLflow's own MinIO account with
# a policy limited to that bucket. The root key stays in the minio service and here;
# the tracking server is the only other holder of an S3 key (the clients reach the
# artifacts through it), and that key opens nothing but the bucket.
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$MLFLOW_BUCKET"
policy=/tmp/mlflow-artifacts.json
cat > "$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
      "Resource": ["arn:aws:s3:::${MLFLOW_BUCKET}"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                 "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": ["arn:aws:s3:::${MLFLOW_BUCKET}/*"]
    }
  ]
}
JSON
# create and add both replace what is there, so every start applies the current secret
mc admin policy create local mlflow-artifacts "$policy"
mc admin user add local "$MLFLOW_S3_USER" "$MLFLOW_S3_PASSWORD"
# attach refuses a policy that is already attached: that is the state we want
mc admin policy attach local mlflow-artifacts --user "$MLFLOW_S3_USER" \
  || mc admin policy entities local --user "$MLFLOW_S3_USER" | grep -q mlflow-artifacts
echo "bucket $MLFLOW_BUCKET and MinIO user $MLFLOW_S3_USER ready"
