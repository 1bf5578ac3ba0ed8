"""Forward-mode (tangent) rules: forward_runtime."""
