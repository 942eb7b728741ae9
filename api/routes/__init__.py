"""Versioned HTTP routes (``/api/v1``). Each module is one concern; each route declares its least role."""

from __future__ import annotations

from fastapi import APIRouter

API_PREFIX = "/api/v1"


def routers() -> list[APIRouter]:
    from api.routes import (
        alerts,
        deployments,
        fleet,
        frames,
        health,
        inspections,
        models,
        products,
        retrains,
        review,
        rollouts,
        stats,
        tokens,
    )

    return [
        health.router,
        inspections.router,
        frames.router,
        stats.router,
        review.router,
        fleet.router,
        models.router,
        products.router,
        retrains.router,
        deployments.router,
        rollouts.router,
        tokens.router,
        alerts.router,
    ]
