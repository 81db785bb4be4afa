"""Forward-only SQL migrations (``NNNN_description.sql``) and the command that applies them."""
