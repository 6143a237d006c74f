"""Model registry and builders."""
