"""Curation: clean a dataset into a new one, logging every item each step removed or changed, and why."""
