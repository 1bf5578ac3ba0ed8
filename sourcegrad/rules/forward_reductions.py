"""Forward-mode (tangent) rules: forward_reductions."""
