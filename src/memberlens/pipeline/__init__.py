"""The pipeline: the steps that build the warehouse marts for an as-of date, with a run log."""
