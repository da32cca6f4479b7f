"""The providers built into avflow-social, registered through the plugin's own hook."""
