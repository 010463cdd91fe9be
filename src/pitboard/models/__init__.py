"""All ORM tables, in one package so Alembic and every domain see the same metadata."""

from pitboard.models import measurement, routing, workboard, workflows  # noqa: F401  (tables of later features)
from pitboard.models.base import Base
from pitboard.models.consent import (
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    ErasureTombstone,
    PrivacyRequest,
    Suppression,
    SystemSetting,
)
from pitboard.models.contacts import Account, Contact, CustomFieldDefinition, Identity, LifecycleStageChange
from pitboard.models.ingest import (
    AccountIdentity,
    AccountMerge,
    CampaignSpend,
    ContactMerge,
    DataContract,
    DedupeCandidate,
    ImportRun,
    QualitySnapshot,
    QuarantinedRecord,
    Source,
)
from pitboard.models.marketing import Campaign, Event
from pitboard.models.messaging import Message
from pitboard.models.pipeline import Opportunity
from pitboard.models.platform import ROLES, ApiKey, AuditEntry, Job, User
from pitboard.models.project import ProjectVersion
from pitboard.models.sales import SalesUser
from pitboard.models.scoring import ContactScore, ScoringModel, ScoringModelVersion
from pitboard.models.segments import Segment, SegmentMembership

__all__ = [
    "ROLES",
    "Account",
    "AccountIdentity",
    "AccountMerge",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Campaign",
    "CampaignSpend",
    "ConsentPurpose",
    "ConsentRecord",
    "ConsentState",
    "Contact",
    "ContactMerge",
    "ContactScore",
    "CustomFieldDefinition",
    "DataContract",
    "DedupeCandidate",
    "ErasureTombstone",
    "Event",
    "Identity",
    "ImportRun",
    "Job",
    "LifecycleStageChange",
    "Message",
    "Opportunity",
    "PrivacyRequest",
    "ProjectVersion",
    "QualitySnapshot",
    "QuarantinedRecord",
    "SalesUser",
    "ScoringModel",
    "ScoringModelVersion",
    "Segment",
    "SegmentMembership",
    "Source",
    "Suppression",
    "SystemSetting",
    "User",
]
