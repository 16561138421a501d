"""Safety limits and the validator that gates every policy write."""

from app.policy.limits import SafetyLimits, ValidationContext
from app.policy.validator import PolicyValidator

__all__ = ["PolicyValidator", "SafetyLimits", "ValidationContext"]
