"""The control plane: users, projects, keys, CLI tokens and config deploys."""
