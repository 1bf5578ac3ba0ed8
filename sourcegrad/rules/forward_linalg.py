"""Forward-mode (tangent) rules: forward_linalg."""
