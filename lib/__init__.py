"""Plumbing with no HealthSync in it: each module wraps a library (Channels, Redis, Django's storage and
cache, Celery's broker) for one need of the project and imports nothing of its apps (checked by
import-linter, pyproject.toml)."""
