"""Drop-in ingest (issue 19): Segment's, PostHog's and Mixpanel's tracking calls, translated
into our events and run through the same checks, admission and append as ``POST /``."""
