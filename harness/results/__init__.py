"""Result tables: their schemas (declared once), atomic writes, and the report."""
