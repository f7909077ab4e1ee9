"""The jobs the CLI, API and UI run (build, refresh, schedule) and the one place that turns
settings into components."""
