"""Application factory. ``create_app`` is what ``pitboard serve`` and the tests run."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine, text

from pitboard import __version__
from pitboard.api.errors import install_error_handlers
from pitboard.campaigns.api import router as campaigns_router
from pitboard.consent.api import router as consent_router
from pitboard.contacts.api import router as contacts_router
from pitboard.events.admin_api import router as ingestion_router
from pitboard.events.api import router as tracking_router
from pitboard.kit.db import make_engine
from pitboard.kit.migrate import current_revision, head_revision
from pitboard.measurement.api import router as measurement_router
from pitboard.pipeline.api import router as pipeline_router
from pitboard.privacy.api import router as privacy_router
from pitboard.quality.api import router as quality_router
from pitboard.routing.api import router as routing_router
from pitboard.scoring.api import router as scoring_router
from pitboard.segments.api import router as segments_router
from pitboard.settings import Settings, get_settings
from pitboard.web import install_web
from pitboard.workboard.api import router as workboard_router
from pitboard.workflows.api import router as workflows_router

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="pitboard",
        version=__version__,
        description="Marketing operations: contacts, accounts, campaigns, pipeline. "
        "Authenticate with `Authorization: Bearer <api key>`.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url)
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(contacts_router)
    api.include_router(campaigns_router)
    api.include_router(pipeline_router)
    api.include_router(ingestion_router)
    api.include_router(quality_router)
    api.include_router(consent_router)
    api.include_router(privacy_router)
    api.include_router(segments_router)
    api.include_router(scoring_router)
    api.include_router(routing_router)
    api.include_router(workflows_router)
    api.include_router(measurement_router)
    api.include_router(workboard_router)
    app.include_router(api)
    app.include_router(tracking_router)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str | None]:
        with app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        revision = current_revision(app.state.engine)
        return {
            "status": "ok" if revision == head_revision() else "migrations_pending",
            "version": __version__,
            "database": app.state.engine.dialect.name,
            "schema_revision": revision,
        }

    install_web(app, settings)
    return app
