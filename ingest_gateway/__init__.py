"""The ingest gateway: validates events and appends them to Kafka (``POST /``)."""
