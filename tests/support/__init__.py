"""Real stand-ins for external services (SMTP, Twilio, OIDC) shared by unit and end-to-end tests."""
