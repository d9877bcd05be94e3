"""Pure ASGI middleware of the prediction API."""
