"""Pure: the Diebold-Mariano test and the comparison verdicts."""
