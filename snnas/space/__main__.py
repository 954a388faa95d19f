"""``python -m snnas.space`` prints the search-space reference (the content of docs/search_spaces.md)."""

from snnas.space._describe import schema_markdown

print(schema_markdown(), end="")
