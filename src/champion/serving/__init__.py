"""The prediction API: routing, hot-swapped models, durable prediction log."""

from champion.serving.app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
