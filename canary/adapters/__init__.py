"""I/O behind small ports: the Kubernetes API, Prometheus, Traefik's API."""
