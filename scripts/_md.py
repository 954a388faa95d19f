"""A markdown table of a DataFrame for the benchmark reports (pandas' ``to_markdown`` needs the
optional tabulate package)."""

from __future__ import annotations

import pandas as pd


def md_table(df: pd.DataFrame, digits: int = 6) -> str:
    def fmt(v):
        return f"{v:.{digits}g}" if isinstance(v, float) else str(v)

    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rows = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, "|" + "---|" * len(df.columns), *rows])
