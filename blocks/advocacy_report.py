"""What follows the KPIs in `/nps kpi`: advocacy by kind and stage, and the pilot's outsiders."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from blocks.ids import AdvocacyBlock
from blocks.playbook_modals import ADVOCACY_KINDS, ADVOCACY_STAGES
from storage.advocacy import AdvocacyCounts


def advocacy_text(counts: AdvocacyCounts) -> str:
    """One line per advocacy kind logged: asked / agreed / done, as counts of Promoter cases."""
    if not counts.by_kind:
        return "*Advocacy:* none logged in this period."
    totals = " · ".join(
        f"{counts.total(s)} {label.lower()}" for s, label in ADVOCACY_STAGES.items()
    )
    lines = [f"*Advocacy:* {totals}"]
    for kind, label in ADVOCACY_KINDS.items():
        stages = counts.by_kind.get(kind)
        if stages:
            parts = [f"{stages.get(s, 0)} {name.lower()}" for s, name in ADVOCACY_STAGES.items()]
            lines.append(f"• {label}: " + ", ".join(parts))
    return "\n".join(lines)


def advocacy_blocks(counts: AdvocacyCounts) -> list[Block]:
    """The advocacy section, to follow the KPI blocks."""
    return [SectionBlock(block_id=AdvocacyBlock.COUNTS, text=advocacy_text(counts))]


def outside_pilot_blocks(count: int) -> list[Block]:
    """A line on the responses outside `[pilot]`, when there were any."""
    if not count:
        return []
    text = f"_{count} response{'s' if count != 1 else ''} outside the pilot: stored, not counted._"
    return [
        ContextBlock(block_id=AdvocacyBlock.OUTSIDE_PILOT, elements=[MarkdownTextObject(text=text)])
    ]
