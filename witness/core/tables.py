"""Rich tables for human CLI output."""

from rich.table import Table


def table(title: str, columns: list[str], rows: list[list]) -> Table:
    out = Table(title=title, show_lines=False)
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*["" if v is None else str(v) for v in row])
    return out
