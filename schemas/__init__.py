"""JSON Schemas of the Freshdesk records, shipped as package data (pipeline.schemas)."""
