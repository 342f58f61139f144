"""Catalogue: agencies, fields (lĩnh vực), procedures and their versions, form templates, search."""
