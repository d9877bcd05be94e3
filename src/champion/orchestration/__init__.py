"""What the Airflow DAGs run: their shared options and one task body per task."""
