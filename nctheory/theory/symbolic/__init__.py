"""The symbolic engine: row-sum recurrences derived from specs, and their analysis."""
