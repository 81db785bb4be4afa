"""Plumbing every service uses the same way (settings, Redis and database pools, error
middleware, health checks); shapes that cross processes stay in ``contracts``."""
