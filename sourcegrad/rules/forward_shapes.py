"""Forward-mode (tangent) rules: forward_shapes."""
