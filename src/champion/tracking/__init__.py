"""MLflow: the connection, the model registry, training-run and comparison-run records."""
