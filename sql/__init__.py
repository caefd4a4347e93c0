"""SQL files of the pipeline, shipped as package data (pipeline.sql): NNN_create_* is the schema."""
