"""What leaves finsent for people: chart specs (Altair) and exported tables (CSV, XLSX, JSONL)."""
