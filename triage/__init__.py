"""KCC front-door triage assistant for the Sociaal Wijkteam."""

from .pipeline import Message, Triage, TriageResult

__all__ = ["Message", "Triage", "TriageResult"]
__version__ = "0.1.0"
