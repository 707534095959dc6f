"""The program's targets, as the close-the-loop guide sets them."""

from __future__ import annotations

CONTACT = 0.85
"""Share of Detractors contacted within the SLA."""
CONTACT_72H = 0.95
"""Share of Detractors contacted within 72 hours."""
RESOLUTION = 0.60
"""Share of Detractor cases resolved."""
RECOVERY = (0.25, 0.40)
"""Share of re-surveyed Detractors who come back as Passive or Promoter."""
CHURN_REDUCTION = (0.20, 0.50)
"""How much lower churn is for contacted than for uncontacted Detractors."""
ROI = 5.0
"""Retained revenue per unit of program cost."""
