"""The API's routes, one module per resource."""

from fastapi import APIRouter

from champion.serving.routes import ab, dashboard, feedback, hooks, ops, predict

ROUTES: tuple[APIRouter, ...] = (
    predict.routes,
    feedback.routes,
    ab.routes,
    ops.routes,
    hooks.routes,
    dashboard.routes,
)

__all__ = ["ROUTES"]
