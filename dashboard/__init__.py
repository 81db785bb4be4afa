"""The dashboard: static pages (charts, ops view) and the ops JSON, on the App API origin."""
