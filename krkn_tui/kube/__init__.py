"""Access to the Kubernetes API through the official client."""
