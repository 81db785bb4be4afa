"""The App API origin: mounts the control plane's and the query API's apps (composition only)."""
