"""Shapes that cross process boundaries: topics, Kafka records, Redis keys, key hashing."""
