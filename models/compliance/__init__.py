"""Compliance guard: advertising-law and platform-rule checks on what a host says or a viewer types.

    from models.compliance import ComplianceChecker
    checker = ComplianceChecker(category="food", platform="douyin")
    for v in checker.check("全.网.最.低！加 薇 信 幺三八幺二三四五六七八"):
        print(v.kind, v.term, v.start, v.end, v.severity, v.law, v.suggestion)

Rules are YAML data in ``rules/`` (see ``rules.py`` and docs/COMPLIANCE.md). Pure: no I/O
after the checker is built. Privacy helpers (masking, pseudonymised ids) are in ``privacy.py``.
"""

from models.compliance.detector import ComplianceChecker, Violation
from models.compliance.rules import (
    KINDS,
    LANGUAGES,
    Rule,
    RulePack,
    RulePackError,
    list_categories,
    list_platforms,
)

__all__ = ["ComplianceChecker", "Violation", "KINDS", "LANGUAGES", "Rule", "RulePack", "RulePackError",
           "list_categories", "list_platforms"]
