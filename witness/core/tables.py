"""Rich tables for human CLI output."""

from rich.table import Table
from rich.text import Text


def table(title: str, columns: list[str], rows: list[list]) -> Table:
    out = Table(title=title, show_lines=False)
    for column in columns:
        out.add_column(column)
    for row in rows:
        # Text(): user data is shown as it is, never read as rich markup ("[bold]")
        out.add_row(*[Text("" if v is None else str(v)) for v in row])
    return out
