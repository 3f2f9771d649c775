"""Dev-only tools: the documentation site's MkDocs hook and its screenshots (not shipped)."""
