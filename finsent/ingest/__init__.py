"""Reading files: sniffing encodings, spreadsheets, column guessing, the corpus download."""
