"""Education's rules, pure."""
