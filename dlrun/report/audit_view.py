"""How an audit is shown: audit.md in the run, and a table at the console's width."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from dlrun.report.audit import FAIL, PASS, WARN, Audit

STYLE = {PASS: "green", WARN: "yellow", FAIL: "red"}


def audit_markdown(audit: Audit) -> str:
    counts = audit.to_json()["counts"]
    lines = [f"# Audit of {audit.run_id} ({audit.kind})", "",
             f"{counts[PASS]} pass, {counts[WARN]} warn, {counts[FAIL]} fail.", "",
             "| item | status | evidence | fix |", "| --- | --- | --- | --- |"]
    for item in audit.items:
        evidence = "<br>".join(line.replace("|", "\\|") for line in item.evidence)
        lines.append(f"| {item.title} | **{item.status}** | {evidence} | {(item.fix or '').replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def audit_table(audit: Audit) -> Group:
    """One row per item: the status, the evidence lines and the fix (folded to the console's width)."""
    table = Table(title=f"audit of {audit.run_id} ({audit.kind})", show_lines=True, expand=False)
    table.add_column("item", style="bold", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("evidence and fix", overflow="fold")
    for item in audit.items:
        text = "\n".join(f"• {line}" for line in item.evidence)
        if item.fix and item.status != PASS:
            text += f"\n[bold]fix:[/] {item.fix}"
        table.add_row(item.title, f"[{STYLE[item.status]}]{item.status}[/]", text)
    counts = audit.to_json()["counts"]
    return Group(table, f"{counts[PASS]} pass, {counts[WARN]} warn, {counts[FAIL]} fail")
