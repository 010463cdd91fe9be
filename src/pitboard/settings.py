"""Settings read from the environment (``PITBOARD_*``), once per process.

The secret key signs web sessions and CSRF tokens. When it is not configured we keep a
random one in a file beside the database so sessions survive restarts of ``pitboard serve``
without anyone having to invent a secret for a local demo.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PITBOARD_", extra="ignore")

    database_url: str = Field(default="sqlite:///./pitboard.db", description="SQLAlchemy URL of the database")
    secret_key: str | None = Field(default=None, description="Signs sessions; generated and kept if unset")
    secret_key_file: Path = Field(default=Path(".pitboard-secret"))
    log_level: str = "INFO"
    log_format: str = Field(default="console", description="console or json")
    project_dir: Path = Field(default=Path("."), description="The ops-as-code project folder")
    session_max_age_seconds: int = 8 * 3600
    secure_cookies: bool = False
    api_page_size_max: int = 500
    ingest_max_event_bytes: int = Field(default=32 * 1024, description="Largest single tracking message")
    ingest_max_batch_bytes: int = Field(default=500 * 1024, description="Largest tracking batch body")
    ingest_max_in_flight: int = Field(default=32, description="Concurrent ingest requests before 429")
    base_url: str = Field(default="http://127.0.0.1:8000", description="Public URL used in links sent by email")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = 30
    mail_from: str = "pitboard <marketing@localhost>"
    unsubscribe_mailto: str | None = Field(default=None, description="mailto: address for List-Unsubscribe")
    double_opt_in_max_age_hours: int = Field(default=72, description="How long a confirmation link works")
    preference_link_max_age_days: int = Field(default=365, description="How long preference/unsubscribe links work")
    privacy_request_due_days: int = Field(default=30, description="GDPR Art. 12(3): one month to answer")

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.secret_key_file
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        path.write_text(key + "\n")
        path.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
