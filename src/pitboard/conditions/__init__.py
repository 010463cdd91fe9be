"""The condition language: "which contacts match?" for segments, scoring, routing, workflows and alerts.

    registry = load_field_registry(session)
    tree = parse_condition(yaml.safe_load(text), registry)            # ConditionError names the path
    ids = session.scalars(matching_contacts(tree, CompileContext.for_session(session, now=now)))
    facts = load_facts(session, contact_id, tree, now=now)            # one contact, in memory
    evaluate(tree, facts, now=now)

See docs/conditions.md for the language and the semantics both interpreters share.
"""

from pitboard.conditions.facts import FactsNeeded, facts_needed, load_facts
from pitboard.conditions.fields import FieldRef, FieldRegistry, UnknownField, load_field_registry
from pitboard.conditions.memory import ContactFacts, EventFact, evaluate
from pitboard.conditions.model import (
    AllCondition,
    AnyCondition,
    Condition,
    ConditionError,
    ConditionIssue,
    EventCondition,
    FieldCondition,
    NotCondition,
    PropertyFilter,
    SegmentCondition,
    condition_to_data,
    json_schema,
    parse_condition,
    validation_context,
)
from pitboard.conditions.sql import (
    CompileContext,
    ConditionCompileError,
    SegmentResolver,
    compile_condition,
    matching_contacts,
)

__all__ = [
    "AllCondition",
    "AnyCondition",
    "CompileContext",
    "Condition",
    "ConditionCompileError",
    "ConditionError",
    "ConditionIssue",
    "ContactFacts",
    "EventCondition",
    "EventFact",
    "FactsNeeded",
    "FieldCondition",
    "FieldRef",
    "FieldRegistry",
    "NotCondition",
    "PropertyFilter",
    "SegmentCondition",
    "SegmentResolver",
    "UnknownField",
    "compile_condition",
    "condition_to_data",
    "evaluate",
    "facts_needed",
    "json_schema",
    "load_facts",
    "load_field_registry",
    "matching_contacts",
    "parse_condition",
    "validation_context",
]
